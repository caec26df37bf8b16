import http from 'node:http';
import https from 'node:https';
import { fromWire, TapestryError } from '../../src/errors/index.ts';
import { outageDecision, type OutageState } from './api-outage.ts';

export const DEFAULT_URL = 'http://127.0.0.1:8420';

/** How long a client that has reached the service keeps retrying through an outage (ms). */
const DEFAULT_OUTAGE_MS = 300_000;

export interface ApiClientOptions {
  /** One exchange may take this long (a long-poll answers well before). */
  readonly timeoutMs?: number;
  /**
   * After the first successful exchange, an outage (connection refused or
   * reset, HTTP 502/503/504) is retried with backoff for this long before the
   * call fails with UNAVAILABLE. `TAPESTRY_OUTAGE_MS` overrides; 0 = never.
   */
  readonly outageMs?: number;
  /** Told when an outage starts and when it ends (encp prints it with --verbose). */
  readonly onOutage?: (event: { state: 'down' | 'up'; cause: string; waitedMs: number }) => void;
}

export interface RequestOptions {
  readonly signal?: AbortSignal;
  /**
   * Safe to send twice (GET always is; a POST carrying a unique id the server
   * deduplicates is). Only idempotent calls are re-sent after a failure that
   * may have happened after the server received them.
   */
  readonly idempotent?: boolean;
}

/**
 * The CLIs are thin clients of the REST API (DESIGN §5). Errors come back as
 * `{code, message, detail}` and are rebuilt into TapestryErrors so the CLI
 * prints the same code and exits with the same status as the server meant.
 *
 * Outages: a client that cannot reach the service on its first call fails at
 * once with a clear UNAVAILABLE (nobody wants `encp` to hang when nothing was
 * started). Once it has talked to the service, an outage is taken for a
 * restart or a database fail-over, and the call is retried with backoff for
 * `outageMs` — an `encp` waiting for a tape must survive the API being
 * restarted under it.
 */
export class ApiClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly outageMs: number;
  private contacted = false;
  private outage: OutageState | null = null;

  constructor(baseUrl = process.env.TAPESTRY_URL ?? DEFAULT_URL, timeoutMsOrOptions: number | ApiClientOptions = {}, private readonly clock: () => number = Date.now) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    const options = typeof timeoutMsOrOptions === 'number' ? { timeoutMs: timeoutMsOrOptions } : timeoutMsOrOptions;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    const fromEnv = process.env.TAPESTRY_OUTAGE_MS !== undefined ? Number(process.env.TAPESTRY_OUTAGE_MS) : NaN;
    this.outageMs = Number.isFinite(fromEnv) && fromEnv >= 0 ? fromEnv : options.outageMs ?? DEFAULT_OUTAGE_MS;
    this.onOutage = options.onOutage;
  }

  private readonly onOutage: ApiClientOptions['onOutage'];

  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const url = `${this.baseUrl}/api/v1${path}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const idempotent = options.idempotent ?? (method === 'GET' || method === 'PUT' || method === 'DELETE');
    for (;;) {
      const attempt = options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(this.timeoutMs)]) : AbortSignal.timeout(this.timeoutMs);
      let res: { status: number; text: string } | null = null;
      let failure: SendFailure | null = null;
      try {
        res = await send(method, url, payload, attempt);
      } catch (err) {
        if (options.signal?.aborted) throw options.signal.reason ?? err;
        failure = describeFailure(err);
      }
      const decision = outageDecision({
        contacted: this.contacted,
        idempotent,
        failure,
        status: res?.status ?? null,
        code: res ? errorCode(res.text) : null,
        outage: this.outage,
        now: this.clock(),
        outageMs: this.outageMs,
      });
      if (decision.kind === 'retry') {
        if (this.outage === null) this.onOutage?.({ state: 'down', cause: decision.cause, waitedMs: 0 });
        this.outage = decision.outage;
        await sleep(decision.delayMs, options.signal);
        continue;
      }
      if (decision.kind === 'give-up') {
        throw new TapestryError('UNAVAILABLE', `Tapestry at ${this.baseUrl} has been unreachable for ${Math.round(decision.waitedMs / 1000)} s (${decision.cause}); gave up after the outage limit of ${Math.round(this.outageMs / 1000)} s (TAPESTRY_OUTAGE_MS).`, {
          context: { url: this.baseUrl, waitedMs: decision.waitedMs },
        });
      }
      if (failure) {
        throw new TapestryError('UNAVAILABLE', `cannot reach Tapestry at ${this.baseUrl} (${failure.cause}); is \`tapestry start\` running? Set TAPESTRY_URL to use another address.`, {
          cause: failure.error,
          context: { url: this.baseUrl },
        });
      }
      this.contacted = true;
      if (this.outage !== null) {
        this.onOutage?.({ state: 'up', cause: this.outage.cause, waitedMs: this.clock() - this.outage.since });
        this.outage = null;
      }
      return parseResponse<T>(method, url, path, res!);
    }
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path, undefined, signal ? { signal } : {});
  }

  post<T>(path: string, body: unknown = {}, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('POST', path, body, options);
  }
}

/** The `code` of a Tapestry error body, or null for anything else. */
function errorCode(text: string): string | null {
  if (!text.startsWith('{')) return null;
  try {
    const code = (JSON.parse(text) as { code?: unknown }).code;
    return typeof code === 'string' ? code : null;
  } catch {
    return null;
  }
}

function parseResponse<T>(method: string, url: string, path: string, res: { status: number; text: string }): T {
  let parsed: unknown = undefined;
  if (res.text.length > 0) {
    try {
      parsed = JSON.parse(res.text);
    } catch {
      throw new TapestryError('MALFORMED', `${method} ${url} answered ${res.status} with a body that is not JSON`);
    }
  }
  if (res.status < 200 || res.status > 299) throw fromWire(parsed, `${method} ${path} failed with HTTP ${res.status}`);
  return parsed as T;
}

/** A failed exchange: did the request possibly reach the server? */
export interface SendFailure {
  readonly cause: string;
  /** True when the server cannot have acted on it (refused, or a stale keep-alive socket the server had closed). */
  readonly notSent: boolean;
  readonly error: unknown;
}

function describeFailure(err: unknown): SendFailure {
  const code = (err as { code?: string }).code ?? (err as Error).name;
  const reused = (err as { reusedSocket?: boolean }).reusedSocket === true;
  // ECONNREFUSED / ENOENT: nothing listened. A reset on a reused keep-alive
  // socket is the server having closed it while idle: the request never
  // reached a handler (Node documents this retry case for agents).
  const notSent = code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EADDRNOTAVAIL' || (reused && (code === 'ECONNRESET' || code === 'EPIPE'));
  return { cause: code, notSent, error: err };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * One HTTP exchange with node:http rather than fetch: a CLI makes a handful of
 * calls per run, and fetch's first call costs ~100 ms of start-up (loading
 * undici) against ~15 ms here — for `encp` of a small file, a large share.
 * Keep-alive, so a run's calls share one connection.
 */
const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

function send(method: string, url: string, body: string | undefined, signal: AbortSignal): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  const agent = u.protocol === 'https:' ? agents['https:'] : agents['http:'];
  return new Promise((resolve, reject) => {
    const req = lib.request(u, {
      method,
      agent,
      signal,
      headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (req.reusedSocket) (err as { reusedSocket?: boolean }).reusedSocket = true;
      reject(err);
    });
    req.end(body);
  });
}
