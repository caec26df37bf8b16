/**
 * The soak's virtual clock. Like VirtualClock with auto-advance it jumps to
 * the next timer when nothing else can happen, but "nothing else" includes
 * real I/O: the system under test talks to PostgreSQL, over TCP and over the
 * robot's pty, and a clock that jumped while a query was in flight would run
 * ahead of the work (the driver would submit a month of files in seconds).
 *
 * So it advances only when (1) `busy()` says no real I/O is outstanding (the
 * soak passes "the database pool has no client checked out"), and (2) nothing
 * has poked it for `quietMs` of wall time: every sleep() pokes it, and the
 * soak pokes it on pool activity. A message in flight between two in-process
 * sockets (or through socat) lands well inside that window. It fires one
 * timer per quiet window, so woken code always gets its turn first.
 */
import { performance } from 'node:perf_hooks';
import type { Clock } from '../../src/time/clock.ts';

interface Timer {
  readonly at: number;
  readonly seq: number;
  fire: (() => void) | null;
}

export interface SoakClockOptions {
  readonly start?: number;
  readonly busy: () => boolean;
  /** Wall-clock quiet (no pokes, not busy) required before each jump. */
  readonly quietMs?: number;
}

export class SoakClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly heap: Timer[] = [];
  private lastPoke = 0;
  private running = false;
  /** Jumps made; the soak reports them. */
  jumps = 0;
  private readonly quietMs: number;

  constructor(private readonly options: SoakClockOptions) {
    // Start at the wall time: some timestamps come from the database's now()
    // (requests.queued_at), and virtual time must not start before them.
    this.current = options.start ?? Date.now();
    this.quietMs = options.quietMs ?? 0.3;
  }

  /** Whole milliseconds, like Date.now(): drive times are fractional, but timestamps go into protobuf u64s and the database. */
  now(): number {
    return Math.floor(this.current);
  }

  /** Something happened that may lead to more work: restart the quiet window. */
  poke(): void {
    this.lastPoke = performance.now();
    this.wake();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    this.poke();
    return new Promise((resolve, reject) => {
      const timer: Timer = { at: this.current + Math.max(0, ms), seq: this.seq++, fire: null };
      const onAbort = (): void => {
        timer.fire = null; // left in the heap, skipped when it comes up
        reject(signal!.reason ?? new Error('aborted'));
      };
      timer.fire = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.push(timer);
    });
  }

  /**
   * Start advancing. While I/O is outstanding or no timer waits, the loop is
   * parked (no spinning: the machine's other core runs PostgreSQL) and a poke
   * wakes it; it spins on setImmediate only through a quiet window.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.poke();
    this.wake();
  }

  private parked = true;

  private wake(): void {
    if (!this.parked || !this.running) return;
    this.parked = false;
    setImmediate(this.tick);
  }

  private readonly tick = (): void => {
    if (!this.running) {
      this.parked = true;
      return;
    }
    if (this.heap.length === 0 || this.options.busy()) {
      this.parked = true; // a poke (sleep, pool checkout or return) wakes it
      return;
    }
    if (performance.now() - this.lastPoke < this.quietMs) {
      setImmediate(this.tick);
      return;
    }
    const timer = this.pop()!;
    if (timer.fire !== null) {
      this.current = Math.max(this.current, timer.at);
      this.jumps++;
      const fire = timer.fire;
      timer.fire = null;
      fire();
      this.poke();
    }
    setImmediate(this.tick);
  };

  stop(): void {
    this.running = false;
  }

  /** Timers waiting (cancelled ones included until they come up). */
  get pending(): number {
    return this.heap.length;
  }

  // --- a binary heap on (at, seq) -------------------------------------------------------

  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
