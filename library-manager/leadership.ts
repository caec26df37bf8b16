import type pg from 'pg';
import type { Logger } from '../src/logging/index.ts';
import { dedicatedClient } from './listen-client.ts';

/** First half of the two-int advisory-lock key: "library manager of a library" (the second half is hashtext(library)). */
export const LM_LOCK_CLASS = 0x7a9e_5702;

export interface LeadershipDeps {
  readonly pool: pg.Pool;
  readonly library: string;
  readonly log: Logger;
  /** How often a standby tries for the lock, and a leader checks that its lock session is alive. */
  readonly retryMs: number;
  /**
   * Won the lock: start leading on `client` (the lock's session; LISTEN on it
   * too, so losing one loses both). A throw gives the lock back.
   */
  readonly onLead: (client: pg.Client) => Promise<void>;
  /** The lock's session is gone: stop leading at once (someone else may hold the lock already). */
  readonly onLose: (reason: string) => void;
}

/**
 * Leadership of one library's manager (docs/faults-process.md): a
 * session-level `pg_try_advisory_lock` on a connection of its own. Postgres
 * releases the lock the moment that session ends — the process died, or its
 * connection did — so exactly one live session holds it. A standby tries again
 * every `retryMs`; a leader probes its session as often and stops leading as
 * soon as the probe or the connection fails.
 */
export class Leadership {
  private client: pg.Client | null = null;
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();
  private kick: (() => void) | null = null;
  leading = false;

  constructor(private readonly deps: LeadershipDeps) {}

  /** Run the election; resolves after the first attempt (leading or standing by). */
  async start(): Promise<void> {
    await this.attempt();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.kick?.();
    await this.loop;
    const client = this.client;
    this.client = null;
    // Ending the session releases the lock: a standby elsewhere takes over within retryMs.
    await client?.end().catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.deps.retryMs);
        this.kick = () => {
          clearTimeout(t);
          resolve();
        };
      });
      if (this.stopped) return;
      if (this.leading) await this.probe();
      else await this.attempt();
    }
  }

  /** One try for the lock. */
  private async attempt(): Promise<void> {
    try {
      this.client ??= await this.connect();
      const { rows } = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [LM_LOCK_CLASS, this.deps.library]);
      if (!rows[0]?.ok || this.stopped) return;
      this.leading = true;
      this.deps.log.warn({ event: 'lm.leader', library: this.deps.library });
      try {
        await this.deps.onLead(this.client);
      } catch (err) {
        this.deps.log.error({ event: 'lm.lead_failed', err });
        this.lose(`could not start leading: ${(err as Error).message}`);
      }
    } catch (err) {
      this.deps.log.warn({ event: 'lm.election_failed', err: (err as Error).message });
      this.dropClient();
    }
  }

  private async probe(): Promise<void> {
    const client = this.client;
    if (!client) return this.lose('lock session missing');
    try {
      await Promise.race([
        client.query('SELECT 1'),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${this.deps.retryMs * 3} ms`)), this.deps.retryMs * 3)),
      ]);
    } catch (err) {
      this.lose(`lock session failed: ${(err as Error).message}`);
    }
  }

  private async connect(): Promise<pg.Client> {
    const client = await dedicatedClient(this.deps.pool);
    const gone = (why: string): void => {
      if (this.client !== client) return;
      if (this.leading) this.lose(why);
      else this.dropClient();
    };
    client.on('end', () => gone('lock session ended'));
    client.on('error', (err) => gone(`lock session error: ${err.message}`));
    return client;
  }

  private lose(reason: string): void {
    const wasLeading = this.leading;
    this.leading = false;
    this.dropClient();
    if (wasLeading) {
      this.deps.log.warn({ event: 'lm.leadership_lost', library: this.deps.library, reason });
      this.deps.onLose(reason);
    }
  }

  private dropClient(): void {
    const client = this.client;
    this.client = null;
    void client?.end().catch(() => undefined);
  }
}
