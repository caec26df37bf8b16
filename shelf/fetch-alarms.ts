import type { AlarmService } from '../src/alarms/index.ts';
import type { Logger } from '../src/logging/index.ts';

/**
 * "Bring volume V back from shelf S": one alarm per shelved volume that reads
 * wait for. The library manager reports held volumes on every scheduling
 * pass; raising only the first time keeps the alarm's count meaningful (the
 * alarm table dedupes by key anyway, across restarts).
 */
export class ShelfFetchAlarms {
  private readonly raised = new Set<string>();

  constructor(
    private readonly alarms: Pick<AlarmService, 'raise' | 'resolveCause'>,
    private readonly log: Logger,
  ) {}

  raise(held: readonly { label: string; shelf: string | null }[]): void {
    for (const { label, shelf } of held) {
      if (this.raised.has(label)) continue;
      this.raised.add(label);
      const where = shelf === null ? 'the shelf' : `shelf ${JSON.stringify(shelf)}`;
      this.alarms
        .raise({
          key: `SHELVED:${label}`,
          severity: 'warning',
          code: 'SHELVED',
          message: `bring volume ${label} back from ${where}: reads are waiting for it (put it into the mail slot, then run tapestry volume import)`,
          detail: { volume: label, shelf },
        })
        .catch((err: unknown) => {
          this.raised.delete(label);
          this.log.error({ event: 'shelf.alarm_failed', volume: label, err });
        });
    }
  }

  /** The volume is back: its alarm is resolved, and a later trip to the shelf raises again. */
  async returned(labels: readonly string[]): Promise<void> {
    for (const l of labels) {
      this.raised.delete(l);
      await this.alarms.resolveCause(`SHELVED:${l}`, 'system: the volume was imported').catch((err: unknown) => this.log.error({ event: 'shelf.alarm_resolve_failed', volume: l, err }));
    }
  }
}
