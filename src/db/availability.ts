import { TapestryError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';
import type { Queryable } from './pool.ts';

/**
 * Errors that mean "the database cannot be reached right now" rather than
 * "this statement is wrong": the server is down, restarting, refusing
 * connections, or the connection broke. Work that meets one of these waits
 * and tries again; anything else is a real answer and is passed on.
 */
const UNREACHABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// SQLSTATE class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now), 53300 (too many connections).
const UNREACHABLE_SQLSTATE = /^(08...|57P0[123]|53300)$/;
const UNREACHABLE_MESSAGE = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down|in recovery mode)|terminating connection due to administrator command/i;

export function isDbUnavailable(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e instanceof TapestryError) return e.code === 'UNAVAILABLE' && e.context.database === true;
    const code = typeof e.code === 'string' ? e.code : '';
    if (UNREACHABLE_ERRNO.has(code) || UNREACHABLE_SQLSTATE.test(code)) return true;
    if (typeof e.message === 'string' && UNREACHABLE_MESSAGE.test(e.message)) return true;
    // node's net.connect to "localhost" fails with an AggregateError of one error per address.
    if (Array.isArray(e.errors) && e.errors.some((x) => isDbUnavailable(x))) return true;
  }
  return false;
}

/** The UNAVAILABLE error a caller sees for an unreachable database (HTTP 503, retryable). */
export function databaseUnavailable(err: unknown, what = 'the database'): TapestryError {
  const reason = (err as Error)?.message || String(err);
  return new TapestryError('UNAVAILABLE', `${what} is unreachable (${reason}); Tapestry waits for PostgreSQL to return and resumes on its own — check the database server`, {
    cause: err,
    context: { database: true },
  });
}

export interface RetryOptions {
  /** Give up after this long (ms) and throw UNAVAILABLE; Infinity = until aborted. */
  readonly limitMs: number;
  readonly signal?: AbortSignal;
  /** First pause and the cap of the doubling backoff (ms). */
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  /** What is being retried, for the log and the final error. */
  readonly what: string;
  readonly log?: Logger;
  /** Told about every unreachable error (so the availability watcher notices at once). */
  readonly availability?: DbAvailability;
  /** Wall-clock time by default: a database outage happens in real time, whatever the simulator's time scale. */
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const realSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason ?? new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Run `fn`; while it fails because the database is unreachable, wait (doubling
 * backoff) and run it again, for at most `limitMs`. Only for work that is safe
 * to repeat: an unreachable error may come after the server committed (the
 * reply was lost), so `fn` must be idempotent. Other errors pass at once.
 */
export async function retryWhileUnavailable<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const started = now();
  let delay = options.initialDelayMs ?? 250;
  const maxDelay = options.maxDelayMs ?? 5_000;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await fn();
      if (attempt > 1) options.log?.info({ event: 'db.retry_succeeded', what: options.what, attempts: attempt, ms: now() - started });
      return result;
    } catch (err) {
      if (!isDbUnavailable(err)) throw err;
      options.availability?.reportFailure(err);
      const waited = now() - started;
      if (waited + delay > options.limitMs) {
        throw databaseUnavailable(err, `the database (needed for ${options.what}) has been unreachable for ${Math.round(waited / 1000)} s and`);
      }
      if (attempt === 1) options.log?.warn({ event: 'db.retrying', what: options.what, err: (err as Error).message, limitMs: options.limitMs });
      await sleep(delay, options.signal);
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}

export type DbState = 'up' | 'down';

export interface DbAvailabilityOptions {
  readonly db: Queryable;
  readonly log: Logger;
  /** How often the database is probed (ms). While it is down this is also how soon its return is noticed. */
  readonly intervalMs?: number;
  /** A probe taking longer than this counts as down (a stopped, not crashed, server accepts and never answers). */
  readonly probeTimeoutMs?: number;
}

/**
 * Is the database reachable: a probe every `intervalMs`, plus what callers
 * report. Logs `db.unavailable` / `db.available` once per transition (not once
 * per failed query) and tells listeners, so the library manager can stop
 * starting new work and schedule again the moment the database is back.
 */
export class DbAvailability {
  private current: DbState = 'up';
  private since = Date.now();
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private probing: Promise<void> | null = null;
  private readonly listeners = new Set<(state: DbState) => void>();
  private readonly log: Logger;

  constructor(private readonly options: DbAvailabilityOptions) {
    this.log = options.log.child({ component: 'db' });
  }

  get state(): DbState {
    return this.current;
  }

  get up(): boolean {
    return this.current === 'up';
  }

  /** Since when (epoch ms) the current state holds, and the error that made it down. */
  get status(): { state: DbState; since: number; error: string | null } {
    return { state: this.current, since: this.since, error: this.current === 'down' ? this.lastError : null };
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.probe(), this.options.intervalMs ?? 1_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  /** Called with the new state on every transition. */
  onChange(listener: (state: DbState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A caller met an error: an unreachable one marks the database down now, without waiting for the next probe. */
  reportFailure(err: unknown): void {
    if (isDbUnavailable(err)) this.set('down', (err as Error)?.message ?? String(err));
  }

  /** Probe now (also used by /health so it answers from a fresh look). */
  probe(): Promise<void> {
    this.probing ??= (async () => {
      const timeoutMs = this.options.probeTimeoutMs ?? 5_000;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          this.options.db.query('SELECT 1'),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`connection timeout: no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        this.set('up', null);
      } catch (err) {
        // Only unreachability makes it down; a query error on a live server is not an outage.
        if (isDbUnavailable(err)) this.set('down', (err as Error).message);
      } finally {
        clearTimeout(timer);
        this.probing = null;
      }
    })();
    return this.probing;
  }

  private set(state: DbState, error: string | null): void {
    if (state === 'down') this.lastError = error;
    if (state === this.current) return;
    const downForMs = Date.now() - this.since;
    this.current = state;
    this.since = Date.now();
    if (state === 'down') this.log.error({ event: 'db.unavailable', err: error }, 'the database is unreachable: no new work is started until it returns');
    else this.log.warn({ event: 'db.available', downMs: downForMs }, 'the database is reachable again: resuming');
    for (const l of [...this.listeners]) {
      try {
        l(state);
      } catch (err) {
        this.log.error({ event: 'db.listener_failed', err });
      }
    }
  }
}
