import type { Queryable } from '../src/db/pool.ts';
import { iso, isoOrNull } from '../src/db/rows.ts';
import { formatBfid, locationCookie } from './bfid.ts';

// The file table's state change active → deleted is shared with `ns rm`.
export { markFileDeleted as markDeleted } from '../src/namespace/repo.ts';

export type FileState = 'writing' | 'active' | 'deleted';

/** One row of the file table: the namespace entry and the bit-file record (DESIGN §4). */
export interface FileRecord {
  readonly bfid: string;
  readonly path: string;
  readonly state: FileState;
  /** A failed write whose row stays because it had a position on tape (its bytes count as 'unknown'). */
  readonly abandoned: boolean;
  readonly size: number;
  /** adler32, null until the mover or encp reports it. */
  readonly crc: number | null;
  readonly volume: string | null;
  readonly fileNo: number | null;
  /** Enstore's location cookie for fileNo. */
  readonly locationCookie: string | null;
  readonly storageGroup: string;
  readonly fileFamily: string;
  readonly wrapper: string;
  readonly library: string;
  readonly drive: string | null;
  readonly uid: number;
  readonly gid: number;
  readonly owner: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly deletedAt: string | null;
  readonly abandonedAt: string | null;
}

interface FileRow {
  bfid: string;
  ns_path: string;
  state: FileState;
  size: number;
  crc_adler32: number | null;
  label: string | null;
  file_no: number | null;
  storage_group: string;
  file_family: string;
  wrapper: string;
  library: string;
  drive: string | null;
  uid: number;
  gid: number;
  owner: string;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
  abandoned_at: Date | null;
}

function toRecord(r: FileRow): FileRecord {
  return {
    bfid: r.bfid,
    path: r.ns_path,
    state: r.state,
    abandoned: r.abandoned_at !== null,
    size: r.size,
    crc: r.crc_adler32,
    volume: r.label,
    fileNo: r.file_no,
    locationCookie: r.file_no === null ? null : locationCookie(r.file_no),
    storageGroup: r.storage_group,
    fileFamily: r.file_family,
    wrapper: r.wrapper,
    library: r.library,
    drive: r.drive,
    uid: r.uid,
    gid: r.gid,
    owner: r.owner,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    deletedAt: isoOrNull(r.deleted_at),
    abandonedAt: isoOrNull(r.abandoned_at),
  };
}

const SELECT = `SELECT f.*, v.label FROM files f LEFT JOIN volumes v ON v.id = f.volume_id`;

/**
 * A statement that changes file rows and RETURNs `f.*`, wrapped to give the
 * changed rows as SELECT does (with their volume's label): one round trip
 * instead of a change and a re-read.
 */
const returningRecord = (change: string): string => `WITH f AS (${change}) SELECT f.*, v.label FROM f LEFT JOIN volumes v ON v.id = f.volume_id`;

/** A fresh bfid: the shared sequence and the database clock (see bfid.ts). */
export async function allocateBfid(db: Queryable, brand: string): Promise<string> {
  const { rows } = await db.query<{ seq: number; sec: number }>(
    `SELECT nextval('bfid_seq') AS seq, floor(extract(epoch FROM clock_timestamp()))::bigint AS sec`,
  );
  return formatBfid(brand, rows[0]!.sec, rows[0]!.seq);
}

export interface NewFile {
  readonly bfid: string;
  readonly dirId: number;
  readonly name: string;
  readonly path: string;
  readonly size: number;
  readonly storageGroup: string;
  readonly fileFamily: string;
  readonly wrapper: string;
  readonly library: string;
  readonly uid: number;
  readonly gid: number;
  readonly owner: string;
  readonly at: Date;
}

/** Insert the 'writing' row; the partial unique index refuses a second live file at one path. */
export async function insertWritingFile(db: Queryable, f: NewFile): Promise<FileRecord> {
  const { rows } = await db.query<FileRow>(
    returningRecord(`INSERT INTO files (bfid, dir_id, name, ns_path, state, size, storage_group, file_family, wrapper, library, uid, gid, owner, created_at, updated_at)
     VALUES ($1, $2, $3, $4, 'writing', $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING *`),
    [f.bfid, f.dirId, f.name, f.path, f.size, f.storageGroup, f.fileFamily, f.wrapper, f.library, f.uid, f.gid, f.owner, f.at],
  );
  return toRecord(rows[0]!);
}

export async function fileByBfid(db: Queryable, bfid: string, options: { forUpdate?: boolean } = {}): Promise<FileRecord | null> {
  const { rows } = await db.query<FileRow>(`${SELECT} WHERE f.bfid = $1${options.forUpdate ? ' FOR UPDATE OF f' : ''}`, [bfid]);
  return rows[0] ? toRecord(rows[0]) : null;
}

/** The live file at a path, else the most recent deleted or abandoned one. */
export async function fileByPath(db: Queryable, path: string): Promise<FileRecord | null> {
  const { rows } = await db.query<FileRow>(
    `${SELECT} WHERE f.ns_path = $1
     ORDER BY (f.state <> 'deleted' AND f.abandoned_at IS NULL) DESC, f.created_at DESC, f.bfid DESC LIMIT 1`,
    [path],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

export async function fileAtPosition(db: Queryable, label: string, fileNo: number): Promise<FileRecord | null> {
  const { rows } = await db.query<FileRow>(`${SELECT} WHERE v.label = $1 AND f.file_no = $2`, [label, fileNo]);
  return rows[0] ? toRecord(rows[0]) : null;
}

/** Every file row on a volume, in tape order (Enstore's `info --list`). */
export async function volumeFiles(db: Queryable, label: string): Promise<FileRecord[]> {
  const { rows } = await db.query<FileRow>(`${SELECT} WHERE v.label = $1 AND f.file_no IS NOT NULL ORDER BY f.file_no`, [label]);
  return rows.map(toRecord);
}

/** The volume facts the position and activation rules need. */
export interface VolumeFacts {
  readonly id: number;
  readonly label: string;
  readonly library: string;
  readonly family: string;
  readonly eodFileNo: number | null;
}

export async function volumeFacts(db: Queryable, label: string): Promise<VolumeFacts | null> {
  const { rows } = await db.query<{ id: number; label: string; library: string; family: string; eod_file_no: number | null }>(
    `SELECT id, label, library, storage_group || '.' || file_family || '.' || wrapper AS family, eod_file_no FROM volumes WHERE label = $1`,
    [label],
  );
  const r = rows[0];
  return r ? { id: r.id, label: r.label, library: r.library, family: r.family, eodFileNo: r.eod_file_no } : null;
}

/**
 * Positions at or past `fromFileNo` of a volume that a new write there takes
 * over: the drive truncates at the new file, so whatever else claimed them
 * loses its position. Always the rows of abandoned writes (their 'unknown'
 * bytes leave the volume's counters by trigger); with `unregistered`, also
 * other 'writing' rows that are not abandoned — writes whose registration
 * never reached the end-of-data (a mover gave up while the database was
 * down); their request is retried, elsewhere or here. One statement for both.
 */
export async function releasePositionsFrom(
  db: Queryable,
  p: { volumeId: number; fromFileNo: number; except: string; unregistered: boolean; at: Date },
): Promise<{ abandoned: string[]; unregistered: string[] }> {
  const { rows } = await db.query<{ bfid: string; abandoned: boolean }>(
    `UPDATE files SET volume_id = NULL, file_no = NULL, updated_at = $5
     WHERE volume_id = $1 AND file_no >= $2 AND state = 'writing' AND bfid <> $3 AND (abandoned_at IS NOT NULL OR $4)
     RETURNING bfid, abandoned_at IS NOT NULL AS abandoned`,
    [p.volumeId, p.fromFileNo, p.except, p.unregistered, p.at],
  );
  return { abandoned: rows.filter((r) => r.abandoned).map((r) => r.bfid), unregistered: rows.filter((r) => !r.abandoned).map((r) => r.bfid) };
}

/** Record where a 'writing' file goes on tape (and the mover's CRC when it has one); the row as it is now. */
export async function setPosition(
  db: Queryable,
  bfid: string,
  pos: { volumeId: number; fileNo: number; drive: string | null; crc: number | null; at: Date },
): Promise<FileRecord> {
  const { rows } = await db.query<FileRow>(
    returningRecord(`UPDATE files SET volume_id = $2, file_no = $3, drive = coalesce($4, drive), crc_adler32 = coalesce($5, crc_adler32), updated_at = $6 WHERE bfid = $1 RETURNING *`),
    [bfid, pos.volumeId, pos.fileNo, pos.drive, pos.crc, pos.at],
  );
  return toRecord(rows[0]!);
}

/**
 * writing → active, in one guarded statement: only an unabandoned 'writing'
 * row with a position, a CRC equal to any recorded earlier, on a volume whose
 * end-of-data has moved past the file. Null when a guard fails (the caller
 * says which).
 */
export async function activate(db: Queryable, bfid: string, crc: number, at: Date): Promise<FileRecord | null> {
  const { rows } = await db.query<FileRow>(
    returningRecord(`UPDATE files f SET state = 'active', crc_adler32 = $2, updated_at = $3
     FROM volumes v
     WHERE f.bfid = $1 AND f.state = 'writing' AND f.abandoned_at IS NULL
       AND v.id = f.volume_id AND f.file_no IS NOT NULL AND v.eod_file_no > f.file_no
       AND (f.crc_adler32 IS NULL OR f.crc_adler32 = $2)
     RETURNING f.*`),
    [bfid, crc, at],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

/**
 * A failed write: the row goes when nothing refers to it (no tape position, no
 * request row); otherwise it stays 'writing' with `abandoned_at` set, gives up
 * its path, and its bytes stay counted as 'unknown' on the volume.
 */
export async function abandon(db: Queryable, bfid: string, at: Date): Promise<'removed' | 'abandoned' | null> {
  const del = await db.query(
    `DELETE FROM files f WHERE f.bfid = $1 AND f.state = 'writing' AND f.volume_id IS NULL
       AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.bfid = f.bfid)`,
    [bfid],
  );
  if ((del.rowCount ?? 0) > 0) return 'removed';
  const upd = await db.query(
    `UPDATE files SET abandoned_at = coalesce(abandoned_at, $2), updated_at = $2 WHERE bfid = $1 AND state = 'writing'`,
    [bfid, at],
  );
  return (upd.rowCount ?? 0) > 0 ? 'abandoned' : null;
}
