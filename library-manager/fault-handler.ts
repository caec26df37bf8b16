/**
 * The library manager's answer to a transfer that failed with a drive or
 * media error (docs/faults-drive-media.md): the fault policy's verdicts
 * (fault-policy.ts) acted on through the repository, the volume clerk and the
 * alarms. The service calls it from WorkDone; what it does not handle goes
 * through the usual retry rule.
 */
import type pg from 'pg';
import { alarmKey, raiseAlarm, resolveAlarmByKey } from '../src/alarms/index.ts';
import type { Logger } from '../src/logging/index.ts';
import type { WorkDone } from '../src/protocol/index.ts';
import type { Clock } from '../src/time/clock.ts';
import { classifyFailure, moverFailed, noaccessStorm, suspectVerdict, type FaultThresholds } from './fault-policy.ts';
import * as repo from './fault-repo.ts';
import { getRequest, requeue, type RequestRow } from './queue-repo.ts';

/** The volume clerk's inhibit call (a history row with every change). */
export interface FaultVolumeClerk {
  setInhibit(label: string, change: { kind: 'system'; field: 'access' | 'state'; value: string }, actor: string, reason?: string): Promise<unknown>;
}

export interface FaultHandlerDeps {
  readonly library: string;
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly log: Logger;
  readonly thresholds: FaultThresholds;
  readonly volumes: FaultVolumeClerk;
  /** Fail a request for good (a write's file entry is abandoned). */
  readonly fail: (row: RequestRow, code: string, message: string) => Promise<void>;
  /** Take a mover offline the operator's way (its tape is dismounted once idle). */
  readonly takeOffline: (mover: string) => Promise<unknown>;
  /** A request's row changed: wake its long-polls. */
  readonly notify: (id: number) => void;
}

const ACTOR = 'library-manager';

export class FaultHandler {
  constructor(private readonly deps: FaultHandlerDeps) {}

  private now(): Date {
    return new Date(this.deps.clock.now());
  }

  /**
   * A failed WorkDone of request `id` by `mover`. True when handled here
   * (re-queued or failed); false: the usual rule (retry up to max_retry) applies.
   */
  async failed(mover: string, id: number, done: WorkDone): Promise<boolean> {
    const { pool, thresholds: t, log } = this.deps;
    const row = await getRequest(pool, id);
    if (!row) return false;
    const code = done.errorCode ?? 'INTERNAL';
    const volume = done.volume || row.volumeLabel || null;
    const facts = volume ? await repo.volumeFaultFacts(pool, volume) : null;
    const verdict = classifyFailure({ code, kind: row.kind, ...(facts ? { remainingBytes: facts.remainingBytes, capacityBytes: facts.capacityBytes } : {}) }, t);
    log.warn({ event: 'lm.fault', mover, requestId: id, code, volume, verdict });
    switch (verdict) {
      case 'other':
        return false;
      case 'end-of-tape': {
        // The tape ended early: nobody's fault. The volume is full, the write
        // goes to another one and the attempt is not counted.
        if (volume && facts && facts.systemState === 'none') {
          await this.deps.volumes.setInhibit(volume, { kind: 'system', field: 'state', value: 'full' }, ACTOR, `${code} while writing on ${mover} with ${facts.remainingBytes} bytes left`);
        }
        if (await requeue(pool, id, { code, message: `${done.message} (on ${mover}; ${volume} is full, the write goes to another volume)` })) {
          await pool.query('UPDATE requests SET attempts = greatest(attempts - 1, 0) WHERE id = $1', [id]);
        }
        return true;
      }
      case 'write-crc': {
        // What reached the tape is not what encp sent: no more writes there;
        // what is on it already is still readable.
        if (volume) {
          await this.deps.volumes.setInhibit(volume, { kind: 'system', field: 'state', value: 'readonly' }, ACTOR, `CRC mismatch writing ${row.bfid} on ${mover}`);
          await raiseAlarm(pool, {
            key: alarmKey('READONLY', volume), severity: 'error', code: 'CRC_MISMATCH', at: this.now(),
            message: `volume ${volume} set readonly: CRC mismatch writing ${row.bfid} on mover ${mover}: ${done.message}`,
            detail: { volume, mover, bfid: row.bfid, requestId: id },
          });
        }
        await this.countMoverFailure(mover, id, code, done.message, volume);
        // Retried like a drive error (elsewhere: the volume is readonly now), up to max_retry.
        if (row.attempts <= row.maxRetry) {
          await requeue(pool, id, { code, message: `${done.message} (attempt ${row.attempts} on ${mover}; ${volume} set readonly)` });
        } else {
          await this.deps.fail(row, 'TOO_MANY_RETRIES', `${done.message}; gave up after ${row.attempts} attempts`);
        }
        return true;
      }
      case 'drive-media': {
        await this.countMoverFailure(mover, id, code, done.message, volume);
        if (!volume || !facts) return false;
        const suspects = await repo.addSuspect(pool, { volume, mover, library: this.deps.library, code, message: done.message, at: this.now() });
        const { movers, noaccess } = suspectVerdict(suspects, mover, t);
        log.warn({ event: 'lm.suspect', volume, mover, suspects: movers });
        const nowNoaccess = noaccess && facts.systemAccess === 'none';
        if (nowNoaccess) await this.noaccess(volume, facts, movers, mover, code);
        // A read has nowhere else to go (also one that was at a mover when the
        // volume went NOACCESS); a write does (the volume clerk skips NOACCESS volumes).
        if (row.kind === 'read' && (nowNoaccess || facts.systemAccess === 'NOACCESS')) {
          await this.deps.fail(row, 'NOACCESS', `volume ${volume} is NOACCESS after errors on ${movers.length} movers (${movers.join(', ')}); last: ${done.message}`);
          return true;
        }
        return false;
      }
    }
  }

  private async countMoverFailure(mover: string, requestId: number, code: string, message: string, volume: string | null): Promise<void> {
    const { pool, thresholds: t } = this.deps;
    const now = this.deps.clock.now();
    const before = await repo.moverFailureRecord(pool, mover, new Date(now - t.moverFailureWindowMs));
    const { record, offline } = moverFailed(before, now, t);
    await repo.saveMoverFailure(pool, { mover, at: new Date(now), code, message, volume, requestId, consecutive: record.consecutive });
    if (!offline) return;
    const why = `mover ${mover} taken offline: ${record.consecutive} failures in a row, ${record.failures.length} within ${Math.round(t.moverFailureWindowMs / 60_000)} min (last: ${code}${volume ? ` on ${volume}` : ''})`;
    this.deps.log.error({ event: 'lm.mover_offline', mover, consecutive: record.consecutive, failures: record.failures.length });
    await this.deps.takeOffline(mover);
    await raiseAlarm(pool, { key: alarmKey('MOVER_OFFLINE', mover), severity: 'error', code: 'DRIVE_ERROR', message: why, at: new Date(now), detail: { mover, consecutive: record.consecutive, failures: record.failures.length, lastCode: code, volume } });
  }

  /** The volume goes NOACCESS: its queued requests fail, an alarm, and perhaps a storm on its robot. */
  private async noaccess(volume: string, facts: { robot: string; library: string }, movers: readonly string[], mover: string, code: string): Promise<void> {
    const { pool, thresholds: t, log } = this.deps;
    const reason = `errors on ${movers.length} movers (${movers.join(', ')}); last ${code} on ${mover}`;
    await this.deps.volumes.setInhibit(volume, { kind: 'system', field: 'access', value: 'NOACCESS' }, ACTOR, reason);
    const message = `volume ${volume} is NOACCESS: ${reason}`;
    const failed = await repo.failQueuedOfVolume(pool, volume, 'NOACCESS', message);
    for (const id of failed) this.deps.notify(id);
    await raiseAlarm(pool, { key: alarmKey('NOACCESS', volume), severity: 'error', code: 'NOACCESS', message: `Mover error (${mover}) caused volume ${volume} to go NOACCESS: ${reason}`, at: this.now(), detail: { volume, movers, failedRequests: failed } });
    log.error({ event: 'lm.noaccess', volume, movers, failedRequests: failed });
    const now = this.deps.clock.now();
    const { times, resetAt } = await repo.recordNoaccess(pool, { robot: facts.robot, volume, library: facts.library, mover, at: new Date(now) }, new Date(now - t.noaccessWindowMs));
    if (!noaccessStorm(times, now, resetAt, t)) return;
    const why = `${times.length} volumes went NOACCESS on robot ${facts.robot} within ${Math.round(t.noaccessWindowMs / 1000)} s (last: ${volume})`;
    const broken = await repo.breakLibraries(pool, facts.robot, why, new Date(now));
    for (const library of broken) {
      await raiseAlarm(pool, { key: alarmKey('BROKEN', library), severity: 'critical', code: 'BROKEN', message: `library ${library} is BROKEN: ${why}; \`tapestry library reset ${library}\` after checking the robot and drives`, at: new Date(now), detail: { library, robot: facts.robot, volume } });
    }
    log.error({ event: 'lm.broken', robot: facts.robot, libraries: broken, why });
  }

  /** `library reset`: broken → unlocked, the NOACCESS count starts afresh, the BROKEN alarm is resolved. */
  async resetLibrary(by: string): Promise<{ library: string; previous: string; state: string } | null> {
    const at = this.now();
    const r = await repo.resetLibrary(this.deps.pool, this.deps.library, at);
    if (!r) return null;
    await resolveAlarmByKey(this.deps.pool, alarmKey('BROKEN', this.deps.library), by, at);
    this.deps.log.warn({ event: 'lm.reset', previous: r.previous, state: r.state, by });
    return { library: this.deps.library, ...r };
  }

  /** `mover online`: counts start afresh, its suspect pairs are forgotten, its MOVER_OFFLINE alarm resolved. */
  async moverOnline(mover: string, by: string): Promise<{ suspectsCleared: number }> {
    const at = this.now();
    const r = await repo.resetMoverFaults(this.deps.pool, mover, at);
    await resolveAlarmByKey(this.deps.pool, alarmKey('MOVER_OFFLINE', mover), by, at);
    return r;
  }
}
