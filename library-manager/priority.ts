/**
 * Enstore's request order (reference/enstore.md §3 "Priority"): the admin queue
 * before the regular one, then the current priority (base + one step per
 * `agingStepMs` waited), then age. Enstore recomputes curpri every 60 s; here
 * it is a function of `now`, so it is always exact.
 */
import type { QueuedRequest, SchedulerConfig } from './types.ts';

/** Base priority plus one for every full `agingStepMs` the request has waited. */
export function currentPriority(r: Pick<QueuedRequest, 'priority' | 'queuedAt'>, now: number, agingStepMs: number): number {
  const waited = Math.max(0, now - r.queuedAt);
  return r.priority + (agingStepMs > 0 ? Math.floor(waited / agingStepMs) : 0);
}

/**
 * Order of `requests.id` values: bigserial decimal strings compare by length,
 * then lexically, so "10" comes after "9".
 */
export function compareIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Negative when `a` goes first: admin, then higher current priority, then older, then lower id. */
export function compareRequests(a: QueuedRequest, b: QueuedRequest, now: number, agingStepMs: number): number {
  if (a.admin !== b.admin) return a.admin ? -1 : 1;
  const pa = currentPriority(a, now, agingStepMs);
  const pb = currentPriority(b, now, agingStepMs);
  if (pa !== pb) return pb - pa;
  if (a.queuedAt !== b.queuedAt) return a.queuedAt - b.queuedAt;
  return compareIds(a.id, b.id);
}

/** The first of `requests` in priority order, or undefined. */
export function topRequest<R extends QueuedRequest>(requests: readonly R[], now: number, agingStepMs: number): R | undefined {
  let best: R | undefined;
  for (const r of requests) if (best === undefined || compareRequests(r, best, now, agingStepMs) < 0) best = r;
  return best;
}

/** How long a bound tape stays after its last work: the request's delayed dismount, else the default, capped. */
export function dismountDelay(requested: number | undefined, config: SchedulerConfig): number {
  const wanted = requested ?? config.dismountDelayMs;
  return Math.min(Math.max(0, wanted), config.maxDismountDelayMs);
}
