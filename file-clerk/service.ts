import type pg from 'pg';
import type { AlarmService } from '../src/alarms/service.ts';
import { uniqueViolation } from '../src/db/rows.ts';
import { withTransaction } from '../src/db/tx.ts';
import { TapestryError } from '../src/errors/index.ts';
import type { Logger } from '../src/logging/index.ts';
import { parsePath } from '../src/namespace/paths.ts';
import type { NamespaceService } from '../src/namespace/service.ts';
import { validateName, validateWidth, writeTagsOf, type ResolvedTags } from '../src/namespace/tags.ts';
import type { Clock } from '../src/time/clock.ts';
import { checkBfid, checkBrand, DEFAULT_BRAND, parseBfid } from './bfid.ts';
import * as repo from './repo.ts';
import type { FileRecord } from './repo.ts';

export interface FileClerkDeps {
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly log: Logger;
  /** Resolves the directory and its effective tags inside the clerk's transaction. */
  readonly namespace: Pick<NamespaceService, 'dirForNewFile'>;
  readonly alarms: Pick<AlarmService, 'raise'>;
  /** The bfid brand of this system (default TAPE). */
  readonly brand?: string;
}

/** encp's tag overrides (`--file-family`, `--file-family-width`, `--storage-group`). */
export interface TagOverrides {
  readonly fileFamily?: string;
  readonly width?: number;
  readonly storageGroup?: string;
}

export interface CreateWritingFile {
  readonly path: string;
  readonly size: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly owner?: string;
  readonly overrides?: TagOverrides;
}

/** What a write request needs to be queued: the file and its volume family. */
export interface WritingFile {
  readonly bfid: string;
  readonly path: string;
  readonly size: number;
  readonly library: string;
  readonly storageGroup: string;
  readonly fileFamily: string;
  readonly wrapper: string;
  readonly width: number;
}

export interface Position {
  /** Volume label. */
  readonly volume: string;
  /** Position on tape: file 0 is the VOL1 label, data files count from 1. */
  readonly fileNo: number;
  readonly drive?: string;
  /** adler32 the mover computed, when it has it; activate() must then present the same. */
  readonly crc?: number;
  /**
   * A mover's registration (which may be a retry of an earlier attempt whose
   * registration never completed because the database went away): a
   * position past the volume's end-of-data belongs to a write that was never
   * registered and will be overwritten, so it does not block this one, and
   * this file may move from such a position of its own to the new one.
   */
  readonly replaceUnregistered?: boolean;
}

const MAX_BFID_ATTEMPTS = 3;

function applyOverrides(tags: ResolvedTags, o: TagOverrides | undefined): ResolvedTags {
  if (!o) return tags;
  const out: ResolvedTags = { ...tags };
  if (o.fileFamily !== undefined) out.file_family = { value: validateName('file_family', o.fileFamily), origin: 'override' };
  if (o.storageGroup !== undefined) out.storage_group = { value: validateName('storage_group', o.storageGroup), origin: 'override' };
  if (o.width !== undefined) out.file_family_width = { value: String(validateWidth(o.width)), origin: 'override' };
  return out;
}

/**
 * The file clerk (Enstore's file_clerk): owns the file rows from creation
 * ('writing') through activation to deletion, allocates bfids, answers lookups
 * by path, bfid and tape position.
 *
 * Write protocol for the movers: `createWritingFile` (encp) → `assignPosition`
 * when the mover knows the volume and file number → bytes and filemark on tape
 * → volume clerk `recordWrite` (end-of-data past the file) → `activate` with
 * the CRC encp and the mover agreed on. On failure: `abandonWriting`.
 */
export class FileClerk {
  readonly brand: string;

  constructor(private readonly deps: FileClerkDeps) {
    this.brand = checkBrand(deps.brand ?? DEFAULT_BRAND);
  }

  private now(): Date {
    return new Date(this.deps.clock.now());
  }

  /**
   * Create the 'writing' row of a new file from its directory's effective tags
   * (plus permitted overrides). NOT_FOUND: the directory is missing; EXISTS: a
   * live file or a directory has that path; USERERROR: a needed tag is missing
   * or an override is illegal.
   */
  async createWritingFile(input: CreateWritingFile): Promise<WritingFile> {
    const p = parsePath(input.path);
    if (!Number.isSafeInteger(input.size) || input.size < 0) {
      throw new TapestryError('USERERROR', `illegal file size ${input.size} for ${p.path}`, { context: { path: p.path, size: input.size } });
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const created = await withTransaction(this.deps.pool, async (tx) => {
          const dir = await this.deps.namespace.dirForNewFile(tx, p);
          const tags = writeTagsOf(dir.dirPath, applyOverrides(dir.tags, input.overrides));
          const existing = await repo.fileByPath(tx, p.path);
          if (existing && existing.state !== 'deleted' && !existing.abandoned) throw exists(p.path, existing);
          const record = await repo.insertWritingFile(tx, {
            bfid: await repo.allocateBfid(tx, this.brand),
            dirId: dir.dirId,
            name: dir.name,
            path: p.path,
            size: input.size,
            storageGroup: tags.storageGroup,
            fileFamily: tags.fileFamily,
            wrapper: tags.wrapper,
            library: tags.library,
            uid: input.uid ?? 0,
            gid: input.gid ?? 0,
            owner: input.owner ?? 'root',
            at: this.now(),
          });
          return { record, width: tags.width };
        });
        const r = created.record;
        this.deps.log.info({ event: 'file.created', bfid: r.bfid, path: r.path, size: r.size, family: `${r.storageGroup}.${r.fileFamily}.${r.wrapper}`, library: r.library });
        return { bfid: r.bfid, path: r.path, size: r.size, library: r.library, storageGroup: r.storageGroup, fileFamily: r.fileFamily, wrapper: r.wrapper, width: created.width };
      } catch (err) {
        const index = uniqueViolation(err);
        if (index === 'files_live_path') {
          const other = await repo.fileByPath(this.deps.pool, p.path);
          throw exists(p.path, other);
        }
        // Only 100000 allocations within one second could collide; take the next number.
        if (index === 'files_pkey' && attempt < MAX_BFID_ATTEMPTS) continue;
        throw err;
      }
    }
  }

  /** `file info`: by absolute path (the live file, else the latest deleted one) or by bfid. */
  async fileInfo(pathOrBfid: string): Promise<FileRecord> {
    if (!pathOrBfid.startsWith('/') && parseBfid(pathOrBfid) === null) {
      throw new TapestryError('USERERROR', `${JSON.stringify(pathOrBfid)} is neither an absolute namespace path nor a bfid`, { context: { file: pathOrBfid } });
    }
    const record = pathOrBfid.startsWith('/')
      ? await repo.fileByPath(this.deps.pool, parsePath(pathOrBfid).path)
      : await repo.fileByBfid(this.deps.pool, checkBfid(pathOrBfid, this.brand));
    if (!record) throw new TapestryError('NO_SUCH_FILE', `no file ${pathOrBfid}`, { context: { file: pathOrBfid } });
    return record;
  }

  /** The file at a position of a volume (any state), or NO_SUCH_FILE. */
  async fileAt(volume: string, fileNo: number): Promise<FileRecord> {
    const record = await repo.fileAtPosition(this.deps.pool, volume, fileNo);
    if (!record) throw new TapestryError('NO_SUCH_FILE', `no file at position ${fileNo} of volume ${volume}`, { context: { volume, fileNo } });
    return record;
  }

  /** Files of a volume in tape order; NO_SUCH_VOLUME for an unknown label. */
  async volumeFiles(volume: string): Promise<FileRecord[]> {
    const files = await repo.volumeFiles(this.deps.pool, volume);
    if (files.length === 0 && !(await repo.volumeFacts(this.deps.pool, volume))) throw noVolume(volume);
    return files;
  }

  /**
   * The mover claims a position on tape for a 'writing' file. The volume must
   * be of the file's library and volume family, and the position at or after
   * the volume's end-of-data; abandoned writes at or after that position lose
   * theirs (the new write overwrites them). Repeating the same claim is a no-op.
   */
  async assignPosition(bfid: string, pos: Position): Promise<FileRecord> {
    checkBfid(bfid, this.brand);
    if (!Number.isSafeInteger(pos.fileNo) || pos.fileNo < 1) throw new TapestryError('USERERROR', `illegal file number ${pos.fileNo}: data files count from 1`, { context: { bfid, fileNo: pos.fileNo } });
    const at = this.now();
    const record = await withTransaction(this.deps.pool, async (tx) => {
      const file = await repo.fileByBfid(tx, bfid, { forUpdate: true });
      if (!file) throw noFile(bfid);
      // A mover repeating its whole registration (the database went away after it committed) finds the file active already, there.
      if (pos.replaceUnregistered && file.state === 'active' && !file.abandoned && file.volume === pos.volume && file.fileNo === pos.fileNo) return file;
      if (file.state !== 'writing' || file.abandoned) throw new TapestryError('CONFLICT', `file ${bfid} is ${describeState(file)}; only a file being written gets a position`, { context: { bfid, state: file.state } });
      if (file.volume === pos.volume && file.fileNo === pos.fileNo) return file;
      if (file.volume !== null && !pos.replaceUnregistered) throw new TapestryError('CONFLICT', `file ${bfid} already has position ${file.fileNo} on ${file.volume}`, { context: { bfid, volume: file.volume, fileNo: file.fileNo } });
      const vol = await repo.volumeFacts(tx, pos.volume);
      if (!vol) throw noVolume(pos.volume);
      const family = `${file.storageGroup}.${file.fileFamily}.${file.wrapper}`;
      if (vol.library !== file.library || vol.family !== family) {
        throw new TapestryError('CONFLICT', `volume ${vol.label} (${vol.library}, ${vol.family}) cannot take file ${bfid} of ${file.library}, ${family}`, { context: { bfid, volume: vol.label } });
      }
      if (pos.fileNo < (vol.eodFileNo ?? 1)) {
        throw new TapestryError('CONFLICT', `position ${pos.fileNo} of ${vol.label} is before its end-of-data (${vol.eodFileNo}); writes append at end-of-data`, { context: { bfid, volume: vol.label, fileNo: pos.fileNo, eodFileNo: vol.eodFileNo } });
      }
      // With replaceUnregistered, pos.fileNo >= end-of-data (checked above): whatever claims it or a later position was never registered.
      const released = await repo.releasePositionsFrom(tx, { volumeId: vol.id, fromFileNo: pos.fileNo, except: bfid, unregistered: pos.replaceUnregistered === true, at });
      if (released.abandoned.length > 0) this.deps.log.info({ event: 'file.abandoned_overwritten', volume: vol.label, fromFileNo: pos.fileNo, bfids: released.abandoned });
      if (released.unregistered.length > 0) this.deps.log.warn({ event: 'file.unregistered_overwritten', volume: vol.label, fromFileNo: pos.fileNo, bfids: released.unregistered });
      if (pos.replaceUnregistered && file.volume !== null) this.deps.log.warn({ event: 'file.repositioned', bfid, from: { volume: file.volume, fileNo: file.fileNo }, to: { volume: vol.label, fileNo: pos.fileNo } });
      try {
        return await repo.setPosition(tx, bfid, { volumeId: vol.id, fileNo: pos.fileNo, drive: pos.drive ?? null, crc: pos.crc ?? null, at });
      } catch (err) {
        if (uniqueViolation(err) === 'files_position') {
          throw new TapestryError('CONFLICT', `position ${pos.fileNo} of ${vol.label} is taken by a file being written`, { context: { volume: vol.label, fileNo: pos.fileNo } });
        }
        throw err;
      }
    });
    this.deps.log.info({ event: 'file.positioned', bfid, volume: pos.volume, fileNo: pos.fileNo, drive: pos.drive });
    return record;
  }

  /**
   * writing → active. Refused unless the file has a position, the volume's
   * end-of-data is past it (recordWrite first) and `crc` equals the CRC
   * recorded earlier (CRC_MISMATCH, with an alarm, otherwise). Activating an
   * active file with the same CRC again is a no-op.
   */
  async activate(bfid: string, crc: number): Promise<FileRecord> {
    checkBfid(bfid, this.brand);
    if (!Number.isInteger(crc) || crc < 0 || crc > 0xffff_ffff) throw new TapestryError('USERERROR', `illegal adler32 ${crc}`, { context: { bfid, crc } });
    const done = await repo.activate(this.deps.pool, bfid, crc, this.now());
    if (done) {
      this.deps.log.info({ event: 'file.active', bfid, path: done.path, volume: done.volume, fileNo: done.fileNo, crc });
      return done;
    }
    const file = await repo.fileByBfid(this.deps.pool, bfid);
    if (!file) throw noFile(bfid);
    if (file.state === 'active' && file.crc === crc) return file;
    if (file.crc !== null && file.crc !== crc) {
      const message = `CRC mismatch for ${file.path} (bfid ${bfid}): recorded ${file.crc}, presented ${crc}`;
      await this.deps.alarms.raise({ key: `CRC_MISMATCH:${bfid}`, severity: 'error', code: 'CRC_MISMATCH', message, detail: { bfid, path: file.path, volume: file.volume, fileNo: file.fileNo } });
      throw new TapestryError('CRC_MISMATCH', message, { context: { bfid, volume: file.volume, fileNo: file.fileNo } });
    }
    if (file.state !== 'writing' || file.abandoned) throw new TapestryError('CONFLICT', `file ${bfid} is ${describeState(file)} and cannot become active`, { context: { bfid, state: file.state } });
    if (file.volume === null || file.fileNo === null) throw new TapestryError('CONFLICT', `file ${bfid} has no position on tape yet`, { context: { bfid } });
    const vol = await repo.volumeFacts(this.deps.pool, file.volume);
    throw new TapestryError('CONFLICT', `end-of-data of ${file.volume} is ${vol?.eodFileNo ?? 'unset'}, not past file ${file.fileNo}; record the write on the volume before activating`, {
      context: { bfid, volume: file.volume, fileNo: file.fileNo, eodFileNo: vol?.eodFileNo ?? null },
    });
  }

  /**
   * A write failed. Without a tape position (and no request row referring to
   * it) the row is removed; otherwise it stays 'writing' with abandoned_at set:
   * it no longer owns its path and its bytes stay 'unknown' on the volume until
   * a later write at that position overwrites them. Idempotent.
   */
  async abandonWriting(bfid: string): Promise<{ bfid: string; outcome: 'removed' | 'abandoned' }> {
    checkBfid(bfid, this.brand);
    const outcome = await repo.abandon(this.deps.pool, bfid, this.now());
    if (outcome === null) {
      const file = await repo.fileByBfid(this.deps.pool, bfid);
      if (!file) throw noFile(bfid);
      throw new TapestryError('CONFLICT', `file ${bfid} is ${describeState(file)}; only a write in progress can be abandoned (use tapestry ns rm for a file on tape)`, { context: { bfid, state: file.state } });
    }
    this.deps.log.warn({ event: 'file.abandoned', bfid, outcome });
    return { bfid, outcome };
  }
}

function describeState(f: FileRecord): string {
  return f.abandoned ? 'an abandoned write' : f.state;
}

function exists(path: string, other: FileRecord | null): TapestryError {
  const what = other ? ` (bfid ${other.bfid}, ${other.state})` : '';
  return new TapestryError('EXISTS', `file ${path} already exists${what}`, { context: { path, ...(other ? { bfid: other.bfid } : {}) } });
}

function noFile(bfid: string): TapestryError {
  return new TapestryError('NO_SUCH_FILE', `no file with bfid ${bfid}`, { context: { bfid } });
}

function noVolume(label: string): TapestryError {
  return new TapestryError('NO_SUCH_VOLUME', `no volume ${label}`, { context: { volume: label } });
}
