/**
 * Every waiting thing in Tapestry takes a Clock (STYLE "Time and tests"), so a
 * schedule or a month-long soak can run on virtual time and a demo can run the
 * simulated hardware faster than real tape.
 */
export interface Clock {
  /** Milliseconds since the epoch, in this clock's time. */
  now(): number;
  /**
   * Resolve after `ms` of this clock's time. Rejects with the signal's reason
   * when aborted; a non-positive duration still yields to the event loop.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

/**
 * Wall-clock time. `scale` multiplies every sleep: 0.01 runs a 16 s tape load in
 * 160 ms. `now()` stays the real time so timestamps in the catalogue are true.
 */
export class SystemClock implements Clock {
  constructor(readonly scale = 1) {
    if (!(scale >= 0) || !Number.isFinite(scale)) throw new RangeError(`time scale must be a finite number >= 0, got ${scale}`);
  }

  now(): number {
    return Date.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const real = Math.max(0, ms * this.scale);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(abortReason(signal!));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, real);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

interface VirtualTimer {
  readonly at: number;
  readonly seq: number;
  readonly fire: () => void;
}

/**
 * Virtual time: nothing advances until asked. `advance(ms)` fires every timer
 * due in that span in order; `runNext()` jumps to the next timer. With
 * `autoAdvance`, the clock jumps to the next timer whenever the event loop has
 * drained the current tick (a setImmediate after each new sleep), which lets a
 * whole simulated library run a month of tape work in minutes: every pending
 * operation is waiting on the clock, so jumping loses nothing.
 */
export class VirtualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: VirtualTimer[] = [];
  private autoScheduled = false;
  private readonly autoAdvance: boolean;

  constructor(options: { start?: number; autoAdvance?: boolean } = {}) {
    this.current = options.start ?? Date.UTC(2026, 0, 1);
    this.autoAdvance = options.autoAdvance ?? false;
  }

  now(): number {
    return this.current;
  }

  /** Number of timers waiting; tests use it to know something is blocked on time. */
  get pending(): number {
    return this.timers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const timer: VirtualTimer = {
        at: this.current + Math.max(0, ms),
        seq: this.seq++,
        fire: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.timers = this.timers.filter((t) => t !== timer);
        reject(abortReason(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.insert(timer);
      this.scheduleAuto();
    });
  }

  /** Move time forward by `ms`, firing every timer due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      const next = this.timers[0];
      if (next === undefined || next.at > target) break;
      await this.fireNext();
    }
    this.current = Math.max(this.current, target);
  }

  /** Jump to the next timer and fire it; false when nothing is waiting. */
  async runNext(): Promise<boolean> {
    if (this.timers.length === 0) return false;
    await this.fireNext();
    return true;
  }

  private async fireNext(): Promise<void> {
    const timer = this.timers.shift();
    if (timer === undefined) return;
    this.current = Math.max(this.current, timer.at);
    timer.fire();
    // Let the woken code run up to its next await before firing another timer.
    await new Promise<void>((r) => setImmediate(r));
  }

  private insert(timer: VirtualTimer): void {
    // Keep timers sorted by (at, seq) so equal deadlines fire in creation order.
    let i = this.timers.length;
    while (i > 0) {
      const prev = this.timers[i - 1]!;
      if (prev.at < timer.at || (prev.at === timer.at && prev.seq < timer.seq)) break;
      i--;
    }
    this.timers.splice(i, 0, timer);
  }

  private scheduleAuto(): void {
    if (!this.autoAdvance || this.autoScheduled) return;
    this.autoScheduled = true;
    setImmediate(() => {
      this.autoScheduled = false;
      void this.runNext().then((fired) => {
        if (fired && this.timers.length > 0) this.scheduleAuto();
      });
    });
  }
}
