import type { Queryable } from '../db/pool.ts';
import { TapestryError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';
import type { Clock } from '../time/clock.ts';
import * as repo from './repo.ts';
import type { Alarm, AlarmSeverity, RaiseAlarm } from './repo.ts';

export interface AlarmServiceDeps {
  readonly db: Queryable;
  readonly clock: Clock;
  readonly log: Logger;
}

/** Operator alarms (Enstore's alarm server), deduplicated by key while open. */
export class AlarmService {
  constructor(private readonly deps: AlarmServiceDeps) {}

  /** Raise (or bump) an alarm; `db` lets a caller raise it inside its own transaction. */
  async raise(alarm: Omit<RaiseAlarm, 'at'>, db: Queryable = this.deps.db): Promise<Alarm> {
    const raised = await repo.raiseAlarm(db, { ...alarm, at: new Date(this.deps.clock.now()) });
    const level = alarm.severity === 'critical' || alarm.severity === 'error' ? 'error' : alarm.severity === 'warning' ? 'warn' : 'info';
    this.deps.log[level]({ event: 'alarm.raised', id: raised.id, key: raised.key, code: raised.code, severity: raised.severity, count: raised.count, message: raised.message });
    return raised;
  }

  list(options: { all?: boolean; severity?: AlarmSeverity } = {}): Promise<Alarm[]> {
    return repo.listAlarms(this.deps.db, options);
  }

  /**
   * The system saw its cause go away (e.g. the volume it asked for is back):
   * resolve the open alarm with this key, if any; null when none was open.
   */
  async resolveCause(key: string, by: string): Promise<Alarm | null> {
    const resolved = await repo.resolveAlarmByKey(this.deps.db, key, by, new Date(this.deps.clock.now()));
    if (resolved) this.deps.log.info({ event: 'alarm.resolved', id: resolved.id, key, by });
    return resolved;
  }

  /** Resolving an already resolved alarm returns it unchanged; an unknown id is NOT_FOUND. */
  async resolve(id: number, by = 'operator'): Promise<Alarm> {
    const resolved = await repo.resolveAlarm(this.deps.db, id, by, new Date(this.deps.clock.now()));
    if (resolved) {
      this.deps.log.info({ event: 'alarm.resolved', id, key: resolved.key, by });
      return resolved;
    }
    const existing = await repo.getAlarm(this.deps.db, id);
    if (!existing) throw new TapestryError('NOT_FOUND', `no alarm ${id}`, { context: { id } });
    return existing;
  }
}
