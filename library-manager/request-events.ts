import type pg from 'pg';
import type { Logger } from '../src/logging/index.ts';
import { dedicatedClient } from './listen-client.ts';

/** The channel the `requests` trigger notifies on (payload: the request id) when a state or assignment changes. */
export const REQUEST_CHANNEL = 'tapestry_request';

/**
 * The request API's ear on the database (docs/faults-process.md): one LISTEN
 * connection per process; long-polls wait here for their request's id. The
 * database is the bus, so a change made by a library manager in any process
 * wakes the waiting encp. The connection is re-made when it drops, and every
 * waiter is woken then (it re-reads the row: a notification sent while we
 * were deaf is not lost, only late).
 */
export class RequestEvents {
  private client: pg.Client | null = null;
  private readonly waiters = new Map<number, Set<() => void>>();
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();
  private wakeLoop: (() => void) | null = null;
  private readonly log: Logger;

  constructor(private readonly pool: pg.Pool, log: Logger, private readonly retryMs = 1000) {
    this.log = log.child({ component: 'request-events' });
  }

  /** Connect (waits for the first attempt only; later ones run in the background). */
  async start(): Promise<void> {
    let first!: () => void;
    const connected = new Promise<void>((resolve) => (first = resolve));
    this.loop = this.run(first);
    await connected;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeLoop?.();
    await this.client?.end().catch(() => undefined);
    await this.loop;
    this.wakeAll();
  }

  /** Resolve on the next notification for `id`, a reconnect, stop(), or after `ms`. */
  next(id: number, ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const set = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, set);
      const wake = (): void => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(id) === set) this.waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      set.add(wake);
    });
  }

  /** Wake the waiters of `id` now (a change made in this process: no need to wait for the round trip). */
  wake(id: number): void {
    for (const w of [...(this.waiters.get(id) ?? [])]) w();
  }

  private wakeAll(): void {
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w();
  }

  private async run(first: () => void): Promise<void> {
    while (!this.stopped) {
      try {
        const client = await dedicatedClient(this.pool);
        const lost = new Promise<void>((resolve) => {
          client.once('end', () => resolve());
          client.once('error', () => resolve());
          this.wakeLoop = resolve;
        });
        client.on('notification', (msg) => {
          if (msg.channel === REQUEST_CHANNEL && msg.payload) this.wake(Number(msg.payload));
        });
        await client.query(`LISTEN ${REQUEST_CHANNEL}`);
        this.client = client;
        this.log.info({ event: 'request_events.listening' });
        // Whatever changed while we were not listening: every waiter looks again.
        this.wakeAll();
        first();
        await lost;
        this.client = null;
        await client.end().catch(() => undefined);
        if (!this.stopped) this.log.warn({ event: 'request_events.lost' });
      } catch (err) {
        this.log.warn({ event: 'request_events.connect_failed', err: (err as Error).message });
        first(); // waiters fall back to their periodic re-check
      }
      if (this.stopped) return;
      this.wakeAll();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.retryMs);
        this.wakeLoop = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }
}
