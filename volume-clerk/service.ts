import type pg from 'pg';
import type { AlarmService } from '../src/alarms/service.ts';
import type { TapestryConfig } from '../src/config/index.ts';
import type { Queryable } from '../src/db/pool.ts';
import { withTransaction } from '../src/db/tx.ts';
import { TapestryError } from '../src/errors/index.ts';
import type { Logger } from '../src/logging/index.ts';
import { validateName, WRAPPERS } from '../src/namespace/tags.ts';
import type { Clock } from '../src/time/clock.ts';
import { checkInhibitValue, familyName, fits, readAvailability, unwritableReason, writeAvailability, type InhibitField, type InhibitKind, type VolumeFamily } from './inhibits.ts';
import * as repo from './repo.ts';
import type { HistoryEntry, LocationKind, Volume, VolumeFilter } from './repo.ts';
import { selectWriteVolume } from './volume-selection.ts';

export interface VolumeClerkDeps {
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly log: Logger;
  readonly alarms: Pick<AlarmService, 'raise'>;
}

export interface AddVolume {
  readonly label: string;
  readonly library: string;
  readonly mediaType: string;
  /** Reserve the blank volume for a storage group (`sg.none.none`); else the common pool. */
  readonly storageGroup?: string;
  readonly comment?: string;
}

export interface NextWriteRequest extends VolumeFamily {
  readonly library: string;
  readonly size: number;
  /** Labels the caller cannot use (mounted elsewhere, suspect for this mover, ...). */
  readonly veto?: readonly string[];
}

export interface InhibitChange {
  readonly kind: InhibitKind;
  readonly field: InhibitField;
  readonly value: string;
}

export const LABEL_RE = /^[A-Z0-9]{6,8}$/;
const SYSTEM_ACTOR = 'volume-clerk';

/**
 * The volume clerk (Enstore's volume_clerk): declares volumes, keeps their
 * inhibits with a history row for every change, chooses the next volume to
 * write, and advances end-of-data and remaining bytes (never backwards).
 */
export class VolumeClerk {
  constructor(private readonly deps: VolumeClerkDeps) {}

  private now(): Date {
    return new Date(this.deps.clock.now());
  }

  /** `volume add`: a blank volume of a library (EXISTS for a known label, USERERROR for a bad label, library or media type). */
  async addVolume(input: AddVolume, actor = 'operator'): Promise<Volume> {
    if (!LABEL_RE.test(input.label)) throw new TapestryError('USERERROR', `illegal volume label ${JSON.stringify(input.label)}: 6 to 8 capital letters and digits, e.g. TS0021L9`, { context: { label: input.label } });
    const storageGroup = input.storageGroup === undefined ? 'none' : validateName('storage_group', input.storageGroup);
    const at = this.now();
    const volume = await withTransaction(this.deps.pool, async (tx) => {
      const lib = await repo.libraryMedia(tx, input.library);
      if (!lib) throw new TapestryError('USERERROR', `unknown library ${JSON.stringify(input.library)}`, { context: { library: input.library } });
      if (!(await repo.mediaTypeExists(tx, input.mediaType))) throw new TapestryError('USERERROR', `unknown media type ${JSON.stringify(input.mediaType)}`, { context: { mediaType: input.mediaType } });
      if (lib.mediaType !== input.mediaType) {
        throw new TapestryError('USERERROR', `library ${lib.library} takes ${lib.mediaType} cartridges, not ${input.mediaType}`, { context: { library: lib.library, mediaType: input.mediaType } });
      }
      const [inserted] = await repo.insertVolumes(tx, [{ label: input.label, library: lib.library, mediaType: input.mediaType, storageGroup, location: { kind: 'unknown', ref: null }, comment: input.comment ?? '' }], at);
      if (!inserted) throw new TapestryError('EXISTS', `volume ${input.label} already exists`, { context: { label: input.label } });
      await repo.addHistory(tx, [inserted.id], { kind: 'declared', value: `${storageGroup}.none.none`, actor, at });
      return (await repo.volumeByLabel(tx, input.label))!;
    });
    this.deps.log.info({ event: 'volume.added', volume: volume.label, library: volume.library, family: volume.volumeFamily, actor });
    return volume;
  }

  /**
   * Declare every simulated cartridge of the config as a blank volume in the
   * common pool of the library whose robot holds it and whose media type
   * matches, at its configured slot. Idempotent: known labels are left alone.
   */
  async declareCartridges(config: Pick<TapestryConfig, 'simulator' | 'libraries' | 'robots'>): Promise<{ declared: string[]; known: number }> {
    const libraries = [...config.libraries.values()];
    const vols: repo.NewVolume[] = [];
    for (const c of config.simulator?.cartridges ?? []) {
      if (config.robots.get(c.robot)?.device !== 'sim') continue;
      const lib = libraries.find((l) => l.robot === c.robot && l.mediaType === c.mediaType);
      if (!lib) {
        this.deps.log.warn({ event: 'volume.undeclared', volume: c.label, robot: c.robot, mediaType: c.mediaType, message: 'no library of this robot takes this media type' });
        continue;
      }
      vols.push({ label: c.label, library: lib.name, mediaType: c.mediaType, storageGroup: 'none', location: { kind: 'slot', ref: String(c.slot) }, comment: '' });
    }
    if (vols.length === 0) return { declared: [], known: 0 };
    const at = this.now();
    const inserted = await withTransaction(this.deps.pool, async (tx) => {
      const rows = await repo.insertVolumes(tx, vols, at);
      await repo.addHistory(tx, rows.map((r) => r.id), { kind: 'declared', value: 'none.none.none', actor: 'system', reason: 'simulated cartridge in the config', at });
      return rows;
    });
    if (inserted.length > 0) this.deps.log.info({ event: 'volume.declared', count: inserted.length, first: inserted[0]!.label, last: inserted.at(-1)!.label });
    return { declared: inserted.map((r) => r.label), known: vols.length - inserted.length };
  }

  async getVolume(label: string, db: Queryable = this.deps.pool): Promise<Volume> {
    const v = await repo.volumeByLabel(db, label);
    if (!v) throw noVolume(label);
    return v;
  }

  /**
   * Volumes, by label. `family` is a file family, or a whole volume family
   * `sg.ff.wrapper` when it has dots.
   */
  listVolumes(filter: { library?: string; family?: string; storageGroup?: string } = {}): Promise<Volume[]> {
    const f: VolumeFilter = { library: filter.library, storageGroup: filter.storageGroup };
    if (filter.family?.includes('.')) {
      const [storageGroup, fileFamily, wrapper] = filter.family.split('.');
      return repo.listVolumes(this.deps.pool, { ...f, storageGroup, fileFamily, wrapper });
    }
    return repo.listVolumes(this.deps.pool, { ...f, fileFamily: filter.family });
  }

  /** Every change, oldest first; an erased volume's history is still found by its last label. */
  async history(label: string): Promise<HistoryEntry[]> {
    const v = await repo.volumeByLabel(this.deps.pool, label);
    const id = v?.id ?? (await repo.historyVolumeId(this.deps.pool, label));
    if (id === null) throw noVolume(label);
    return repo.volumeHistory(this.deps.pool, id);
  }

  /** Set one of the four inhibits, with a history row; unchanged values write nothing. */
  async setInhibit(label: string, change: InhibitChange, actor: string, reason?: string): Promise<Volume> {
    const value = checkInhibitValue(change.kind, change.field, change.value);
    const at = this.now();
    return withTransaction(this.deps.pool, async (tx) => {
      const current = await repo.volumeByLabel(tx, label, { forUpdate: true });
      if (!current) throw noVolume(label);
      // DELETED goes with the .deleted label: only `volume delete` and `volume restore` change it.
      if (change.kind === 'system' && change.field === 'access' && (value === 'DELETED' || current.systemInhibit.access === 'DELETED') && value !== current.systemInhibit.access) {
        throw new TapestryError('CONFLICT', value === 'DELETED'
          ? `use \`tapestry volume delete ${label}\` to delete a volume, not an inhibit`
          : `${label} is DELETED; use \`tapestry volume restore ${label}\` to bring it back`, { context: { volume: label } });
      }
      const ids = await repo.setInhibit(tx, [label], change.kind, change.field, value, at);
      const volume = await this.getVolume(label, tx);
      if (ids.length > 0) {
        await repo.addHistory(tx, ids, { kind: `${change.kind}_inhibit_${change.field}`, oldValue: current[change.kind === 'system' ? 'systemInhibit' : 'userInhibit'][change.field], value, actor, reason, at });
        this.deps.log.info({ event: 'volume.inhibit', volume: label, kind: change.kind, field: change.field, value, actor, reason });
      }
      return volume;
    });
  }

  /** Reset inhibits of one kind to none: one field, or both when `field` is omitted. */
  async clearInhibit(label: string, kind: InhibitKind, field: InhibitField | undefined, actor: string, reason?: string): Promise<Volume> {
    let volume = await this.getVolume(label);
    for (const f of field ? [field] : (['access', 'state'] as const)) {
      volume = await this.setInhibit(label, { kind, field: f, value: 'none' }, actor, reason);
    }
    return volume;
  }

  /**
   * Refuse early (before queueing) what the volume's inhibits forbid: reads of
   * NOACCESS/NOTALLOWED/DELETED or shelved ("fail" policy) volumes; writes to
   * anything not writable, of another family, or without room (a written
   * volume without room is set full). Returns the volume when allowed.
   */
  async checkAvailable(label: string, mode: 'read' | 'write', request: { size?: number; family?: VolumeFamily } = {}): Promise<Volume & { needsOperator: boolean }> {
    const volume = await this.getVolume(label);
    const verdict = mode === 'read' ? readAvailability(volume) : writeAvailability(volume, request);
    if (verdict.ok) return { ...volume, needsOperator: verdict.needsOperator };
    if (verdict.flipToFull) {
      await this.flipToFull(this.deps.pool, [label], `no room for ${request.size} bytes + 5%`);
    }
    throw new TapestryError(verdict.code, verdict.message, { context: { volume: label, mode, reason: verdict.reason } });
  }

  private async flipToFull(db: Queryable, labels: readonly string[], reason: string): Promise<void> {
    const at = this.now();
    const ids = await repo.setInhibit(db, labels, 'system', 'state', 'full', at);
    // Only volumes without a state inhibit are write candidates, so each was 'none'.
    await repo.addHistory(db, ids, { kind: 'system_inhibit_state', oldValue: 'none', value: 'full', actor: SYSTEM_ACTOR, reason, at });
    if (ids.length > 0) this.deps.log.info({ event: 'volume.full', volumes: labels, reason });
  }

  /**
   * The volume the next file of a family goes to (Enstore's
   * next_write_volume), in ONE transaction over candidates locked FOR UPDATE:
   * two concurrent callers never get one blank volume for two families.
   * Written volumes too small for the file are set full on the way (kept even
   * when nothing fits). Nothing fits: NOVOLUME (or STORAGE_QUOTA_EXCEEDED when
   * only the common pool could serve and the storage group's quota is used up),
   * with an alarm.
   */
  async nextWriteVolume(req: NextWriteRequest): Promise<Volume> {
    const family: VolumeFamily = {
      storageGroup: validateName('storage_group', req.storageGroup),
      fileFamily: validateName('file_family', req.fileFamily),
      wrapper: req.wrapper,
    };
    if (!WRAPPERS.includes(req.wrapper)) throw new TapestryError('USERERROR', `unknown wrapper ${JSON.stringify(req.wrapper)} (supported: ${WRAPPERS.join(', ')})`);
    if (!Number.isSafeInteger(req.size) || req.size < 0) throw new TapestryError('USERERROR', `illegal file size ${req.size}`);
    const vf = familyName(family);
    const at = this.now();
    const outcome = await withTransaction(this.deps.pool, async (tx) => {
      const lib = await repo.libraryMedia(tx, req.library);
      if (!lib) throw new TapestryError('USERERROR', `unknown library ${JSON.stringify(req.library)}`, { context: { library: req.library } });
      if (!fits(req.size, lib.capacityBytes)) {
        throw new TapestryError('USERERROR', `a file of ${req.size} bytes does not fit on an empty ${lib.mediaType} volume (${lib.capacityBytes} bytes, 5% kept free)`, { context: { size: req.size, library: lib.library } });
      }
      const quota = await repo.storageGroupQuota(tx, req.library, family.storageGroup);
      const candidates = await repo.lockWriteCandidates(tx, req.library, family, req.veto ?? []);
      const sel = selectWriteVolume(candidates, { ...family, size: req.size }, { veto: req.veto, commonPoolAllowed: quota.quota === null || quota.used < quota.quota });
      if (sel.tooSmall.length > 0) await this.flipToFull(tx, sel.tooSmall, `no room for ${req.size} bytes + 5% of a ${vf} file`);
      if (!sel.chosen) {
        // Name what starves the family (an operator's readonly on its only volume, ...), not just "none".
        const own = await repo.listVolumes(tx, { library: req.library, storageGroup: family.storageGroup, fileFamily: family.fileFamily });
        const blocked = own.filter((v) => (v.wrapper === family.wrapper || v.wrapper === 'none') && v.systemInhibit.access !== 'DELETED').map(unwritableReason).filter((r): r is string => r !== null);
        return { volume: null, pool: null, quotaBlocked: sel.quotaBlocked, blocked };
      }
      if (sel.chosen.assign) {
        const id = await repo.assignFamily(tx, sel.chosen.label, sel.chosen.assign, at);
        await repo.addHistory(tx, [id], { kind: 'family', value: vf, actor: SYSTEM_ACTOR, reason: `taken from the ${sel.chosen.pool} pool`, at });
      }
      return { volume: (await repo.volumeByLabel(tx, sel.chosen.label))!, pool: sel.chosen.pool, quotaBlocked: false, blocked: [] };
    });
    if (outcome.volume) {
      this.deps.log.info({ event: 'volume.next_write', volume: outcome.volume.label, library: req.library, family: vf, size: req.size, pool: outcome.pool });
      return outcome.volume;
    }
    if (outcome.quotaBlocked) {
      const message = `storage group ${family.storageGroup} has used its quota of volumes in ${req.library} [${req.library}, ${vf}]`;
      await this.deps.alarms.raise({ key: `STORAGE_QUOTA_EXCEEDED:${req.library}:${family.storageGroup}`, severity: 'error', code: 'STORAGE_QUOTA_EXCEEDED', message, detail: { library: req.library, family: vf } });
      throw new TapestryError('STORAGE_QUOTA_EXCEEDED', message, { context: { library: req.library, family: vf } });
    }
    const why = outcome.blocked.length === 0 ? '' : `; this family's volumes are not writable: ${outcome.blocked.slice(0, 5).join('; ')}${outcome.blocked.length > 5 ? `; and ${outcome.blocked.length - 5} more` : ''}`;
    const message = `no new volumes available [${req.library}, ${vf}]${why}`;
    await this.deps.alarms.raise({ key: `NOVOLUME:${req.library}:${vf}`, severity: 'error', code: 'NOVOLUME', message, detail: { library: req.library, family: vf, size: req.size } });
    throw new TapestryError('NOVOLUME', message, { context: { library: req.library, family: vf, size: req.size, notWritable: outcome.blocked } });
  }

  /**
   * After a file and its filemark are on tape: end-of-data moves to
   * `eodFileNo` and `bytesWritten` leave the remaining bytes. Never backwards:
   * an end-of-data not past the recorded one is CONFLICT and changes nothing.
   *
   * `replayOf` makes a repeat harmless: a mover retrying its registration
   * after the database went away cannot know whether its first attempt
   * committed. When the end-of-data already is `eodFileNo` and the file just
   * before it is `replayOf` (a bfid; 'VOL1' for the label, eodFileNo 1), this
   * is that same write again: the volume is returned unchanged, never moved
   * or charged twice.
   */
  async recordWrite(label: string, write: { eodFileNo: number; bytesWritten: number; replayOf?: string }): Promise<Volume> {
    if (!Number.isSafeInteger(write.eodFileNo) || write.eodFileNo < 1) throw new TapestryError('USERERROR', `illegal end-of-data ${write.eodFileNo}`, { context: { volume: label } });
    if (!Number.isSafeInteger(write.bytesWritten) || write.bytesWritten < 0) throw new TapestryError('USERERROR', `illegal byte count ${write.bytesWritten}`, { context: { volume: label } });
    const updated = await repo.recordWrite(this.deps.pool, label, write.eodFileNo, write.bytesWritten, this.now());
    if (updated) {
      this.deps.log.debug({ event: 'volume.eod', volume: label, eodFileNo: updated.eodFileNo, remaining: updated.remainingBytes });
      return updated;
    }
    const current = await this.getVolume(label);
    if (write.replayOf !== undefined && current.eodFileNo === write.eodFileNo) {
      const same = write.replayOf === 'VOL1' ? write.eodFileNo === 1 : await repo.fileIsAt(this.deps.pool, label, write.eodFileNo - 1, write.replayOf);
      if (same) {
        this.deps.log.info({ event: 'volume.eod_replayed', volume: label, eodFileNo: current.eodFileNo, replayOf: write.replayOf });
        return current;
      }
    }
    throw new TapestryError('CONFLICT', `end-of-data of ${label} is already ${current.eodFileNo}; refusing to set it to ${write.eodFileNo}`, {
      context: { volume: label, eodFileNo: current.eodFileNo, requested: write.eodFileNo },
    });
  }

  /** The volume is in a drive: one more mount, location = drive, with a history row. */
  recordMount(label: string, drive: string, actor = SYSTEM_ACTOR): Promise<Volume> {
    return this.move(label, { mounts: 1, access: true, location: { kind: 'drive', ref: drive } }, actor);
  }

  /** The volume left its drive for a slot (or an unknown place). */
  recordDismount(label: string, slot: number | null, actor = SYSTEM_ACTOR): Promise<Volume> {
    return this.move(label, { location: slot === null ? { kind: 'unknown', ref: null } : { kind: 'slot', ref: String(slot) } }, actor);
  }

  setLocation(label: string, location: { kind: LocationKind; ref: string | null }, actor = SYSTEM_ACTOR): Promise<Volume> {
    return this.move(label, { location }, actor);
  }

  private async move(label: string, change: Parameters<typeof repo.touchVolume>[2] & { location: { kind: LocationKind; ref: string | null } }, actor: string): Promise<Volume> {
    const at = this.now();
    return withTransaction(this.deps.pool, async (tx) => {
      const v = await repo.touchVolume(tx, label, change, at);
      if (!v) throw noVolume(label);
      await repo.addHistory(tx, [v.id], { kind: 'location', value: change.location.ref === null ? change.location.kind : `${change.location.kind}:${change.location.ref}`, actor, at });
      return v;
    });
  }

  /** A completed read (access counters). */
  async recordRead(label: string): Promise<Volume> {
    const v = await repo.touchVolume(this.deps.pool, label, { readAccesses: 1, access: true }, this.now());
    if (!v) throw noVolume(label);
    return v;
  }

  /** A read or write error on the volume (error counters; suspect-volume logic is the library manager's). */
  async recordError(label: string, mode: 'read' | 'write'): Promise<Volume> {
    const v = await repo.touchVolume(this.deps.pool, label, mode === 'read' ? { readErrors: 1 } : { writeErrors: 1 }, this.now());
    if (!v) throw noVolume(label);
    return v;
  }

  async setComment(label: string, comment: string, actor = 'operator'): Promise<Volume> {
    const at = this.now();
    return withTransaction(this.deps.pool, async (tx) => {
      const before = await repo.volumeByLabel(tx, label, { forUpdate: true });
      const id = await repo.setComment(tx, label, comment, at);
      if (id === null || !before) throw noVolume(label);
      await repo.addHistory(tx, [id], { kind: 'comment', oldValue: before.comment, value: comment, actor, at });
      return this.getVolume(label, tx);
    });
  }
}

function noVolume(label: string): TapestryError {
  return new TapestryError('NO_SUCH_VOLUME', `no volume ${label}`, { context: { volume: label } });
}
