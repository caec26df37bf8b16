import type { SendFailure } from './api-client.ts';

/** An outage in progress, as the client sees it. */
export interface OutageState {
  readonly since: number;
  readonly cause: string;
  /** Backoff for the next retry. */
  readonly delayMs: number;
}

export type OutageDecision =
  | { readonly kind: 'retry'; readonly delayMs: number; readonly outage: OutageState; readonly cause: string }
  | { readonly kind: 'give-up'; readonly waitedMs: number; readonly cause: string }
  /** Not an outage (or not one we may retry through): the caller reports what happened. */
  | { readonly kind: 'answer' };

const FIRST_DELAY_MS = 200;
const MAX_DELAY_MS = 5_000;

/**
 * Whether a failed exchange is retried: the pure rule behind ApiClient.
 * - Never before the first successful exchange (an unreachable service at
 *   start is a user error: say so at once).
 * - HTTP 502/503/504 with code UNAVAILABLE or no Tapestry error body: the
 *   service (or a proxy) said it did nothing — retry any call.
 * - A transport failure: retry when the request cannot have been acted on, or
 *   when the call is idempotent; otherwise a repeat could do it twice.
 * Backoff doubles from 200 ms to 5 s; past `outageMs` the call gives up.
 */
export function outageDecision(input: {
  contacted: boolean;
  idempotent: boolean;
  failure: SendFailure | null;
  status: number | null;
  /** The `code` of an error body, when the answer carried one. */
  code?: string | null;
  outage: OutageState | null;
  now: number;
  outageMs: number;
}): OutageDecision {
  const { contacted, idempotent, failure, status, outage, now, outageMs } = input;
  const code = input.code ?? null;
  if (!contacted || outageMs <= 0) return { kind: 'answer' };
  let cause: string;
  if (failure) {
    if (!failure.notSent && !idempotent) return { kind: 'answer' };
    cause = failure.cause;
  } else if ((status === 502 || status === 503 || status === 504) && (code === null || code === 'UNAVAILABLE')) {
    // Tapestry answers many of its own errors with 503 (a locked library, a
    // robot needing an operator): those are answers, not an outage. Only
    // UNAVAILABLE (the database is gone) or a body that is not ours (a proxy,
    // a server still starting) is waited out.
    cause = `HTTP ${status}${code ? ` ${code}` : ''}`;
  } else {
    return { kind: 'answer' };
  }
  const since = outage?.since ?? now;
  const waitedMs = now - since;
  if (waitedMs >= outageMs) return { kind: 'give-up', waitedMs, cause };
  const delayMs = Math.min(outage ? Math.min(outage.delayMs * 2, MAX_DELAY_MS) : FIRST_DELAY_MS, Math.max(0, outageMs - waitedMs));
  return { kind: 'retry', delayMs, outage: { since, cause, delayMs }, cause };
}
