/**
 * The SQL of export and import.
 *
 * Export reads a volume and its files in one REPEATABLE READ snapshot, so the
 * file list and the end-of-data it is cut at belong to the same moment.
 *
 * Import writes a volume and its files in ONE transaction, so a refused or
 * failed import leaves nothing behind. This is why it inserts rows itself
 * instead of going through the clerks' write protocol (createWritingFile →
 * assignPosition → recordWrite → activate, one transaction each, and a volume
 * that must first be taken from a blank pool): that protocol is made for a
 * mover appending one file, and has no call for files already on a tape. The
 * invariants it guards still hold here: a file is inserted `active` only with
 * its position, its adler32 (verified on tape just before) and a volume whose
 * end-of-data is past it; the path index and the (volume, file_no) index refuse
 * duplicates; the volume counters follow by the files trigger.
 */
import type { Queryable } from '../src/db/pool.ts';
import { iso, isoOrNull } from '../src/db/rows.ts';

export interface ExportVolumeRow {
  readonly id: number;
  readonly label: string;
  readonly library: string;
  readonly mediaType: string;
  readonly blockSize: number;
  readonly capacityBytes: number;
  readonly storageGroup: string;
  readonly fileFamily: string;
  readonly wrapper: string;
  readonly eodFileNo: number | null;
  readonly location: { readonly kind: string; readonly ref: string | null };
}

export interface ExportFileRow {
  readonly bfid: string;
  readonly path: string;
  readonly state: 'active' | 'deleted';
  readonly size: number;
  readonly crc: number | null;
  readonly fileNo: number;
  readonly uid: number;
  readonly gid: number;
  readonly owner: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly deletedAt: string | null;
  readonly sanitySize: number | null;
  readonly sanityCrc: number | null;
}

export async function volumeForExport(db: Queryable, label: string): Promise<ExportVolumeRow | null> {
  const { rows } = await db.query<{
    id: number; label: string; library: string; media_type: string; block_size: number; capacity_bytes: number;
    storage_group: string; file_family: string; wrapper: string; eod_file_no: number | null; location_kind: string; location_ref: string | null;
  }>(
    `SELECT id, label, library, media_type, block_size, capacity_bytes, storage_group, file_family, wrapper, eod_file_no, location_kind, location_ref
     FROM volumes WHERE label = $1`,
    [label],
  );
  const r = rows[0];
  return r
    ? {
        id: r.id, label: r.label, library: r.library, mediaType: r.media_type, blockSize: r.block_size, capacityBytes: r.capacity_bytes,
        storageGroup: r.storage_group, fileFamily: r.file_family, wrapper: r.wrapper, eodFileNo: r.eod_file_no,
        location: { kind: r.location_kind, ref: r.location_ref },
      }
    : null;
}

/**
 * Active and deleted files before end-of-data, in tape order. Rows still
 * `writing` (a transfer in flight, or an abandoned one) are not complete files
 * and are left out.
 */
export async function filesForExport(db: Queryable, volumeId: number, eodFileNo: number): Promise<ExportFileRow[]> {
  const { rows } = await db.query<{
    bfid: string; ns_path: string; state: 'active' | 'deleted'; size: number; crc_adler32: number | null; file_no: number;
    uid: number; gid: number; owner: string; created_at: Date; updated_at: Date; deleted_at: Date | null; sanity_size: number | null; sanity_crc: number | null;
  }>(
    `SELECT bfid, ns_path, state, size, crc_adler32, file_no, uid, gid, owner, created_at, updated_at, deleted_at, sanity_size, sanity_crc
     FROM files WHERE volume_id = $1 AND file_no < $2 AND state IN ('active', 'deleted') ORDER BY file_no`,
    [volumeId, eodFileNo],
  );
  return rows.map((r) => ({
    bfid: r.bfid, path: r.ns_path, state: r.state, size: r.size, crc: r.crc_adler32, fileNo: r.file_no, uid: r.uid, gid: r.gid, owner: r.owner,
    createdAt: iso(r.created_at), updatedAt: iso(r.updated_at), deletedAt: isoOrNull(r.deleted_at), sanitySize: r.sanity_size, sanityCrc: r.sanity_crc,
  }));
}

export async function volumeExists(db: Queryable, label: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM volumes WHERE label = $1', [label])).rows.length > 0;
}

/** Live (not deleted, not abandoned) files at any of `paths`. */
export async function livePathsTaken(db: Queryable, paths: readonly string[]): Promise<{ path: string; bfid: string }[]> {
  const { rows } = await db.query<{ ns_path: string; bfid: string }>(
    `SELECT ns_path, bfid FROM files WHERE ns_path = ANY($1::text[]) AND state <> 'deleted' AND abandoned_at IS NULL ORDER BY ns_path`,
    [paths],
  );
  return rows.map((r) => ({ path: r.ns_path, bfid: r.bfid }));
}

export async function bfidsTaken(db: Queryable, bfids: readonly string[]): Promise<string[]> {
  if (bfids.length === 0) return [];
  const { rows } = await db.query<{ bfid: string }>('SELECT bfid FROM files WHERE bfid = ANY($1::text[]) ORDER BY bfid', [bfids]);
  return rows.map((r) => r.bfid);
}

export interface ImportedVolume {
  readonly label: string;
  readonly library: string;
  readonly mediaType: string;
  readonly capacityBytes: number;
  readonly remainingBytes: number;
  readonly blockSize: number;
  readonly eodFileNo: number;
  readonly storageGroup: string;
  readonly fileFamily: string;
  readonly wrapper: string;
  readonly comment: string;
  readonly at: Date;
}

/** Insert the volume, labelled and written up to `eodFileNo`; null when the label exists. Its location is unknown until the robot has it. */
export async function insertImportedVolume(db: Queryable, v: ImportedVolume): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO volumes (label, library, media_type, capacity_bytes, remaining_bytes, block_size, eod_file_no,
                          storage_group, file_family, wrapper, location_kind, location_ref, comment, declared_at, modified_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'unknown', NULL, $11, $12, $12)
     ON CONFLICT (label) DO NOTHING RETURNING id`,
    [v.label, v.library, v.mediaType, v.capacityBytes, v.remainingBytes, v.blockSize, v.eodFileNo, v.storageGroup, v.fileFamily, v.wrapper, v.comment, v.at],
  );
  return rows[0]?.id ?? null;
}

export async function addVolumeHistory(db: Queryable, volumeId: number, h: { kind: string; value: string; actor: string; reason: string; at: Date }): Promise<void> {
  await db.query('INSERT INTO volume_history (volume_id, at, kind, value, actor, reason) VALUES ($1, $2, $3, $4, $5, $6)', [volumeId, h.at, h.kind, h.value, h.actor, h.reason]);
}

export interface ImportedFile {
  readonly bfid: string;
  readonly dirId: number;
  readonly name: string;
  readonly path: string;
  readonly size: number;
  readonly crc: number;
  readonly sanitySize: number | null;
  readonly sanityCrc: number | null;
  readonly fileNo: number;
  readonly uid: number;
  readonly gid: number;
  readonly owner: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Every file of the volume in one statement, `active` at its position (set-based: one round trip for any number). */
export async function insertImportedFiles(
  db: Queryable,
  volumeId: number,
  family: { storageGroup: string; fileFamily: string; wrapper: string; library: string },
  files: readonly ImportedFile[],
): Promise<void> {
  if (files.length === 0) return;
  const col = <K extends keyof ImportedFile>(k: K): ImportedFile[K][] => files.map((f) => f[k]);
  await db.query(
    `INSERT INTO files (bfid, dir_id, name, ns_path, state, size, crc_adler32, sanity_size, sanity_crc, volume_id, file_no,
                        storage_group, file_family, wrapper, library, uid, gid, owner, created_at, updated_at)
     SELECT u.bfid, u.dir_id, u.name, u.ns_path, 'active', u.size, u.crc, u.sanity_size, u.sanity_crc, $1, u.file_no,
            $2, $3, $4, $5, u.uid, u.gid, u.owner, u.created_at, u.updated_at
     FROM unnest($6::text[], $7::bigint[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[],
                 $14::int[], $15::int[], $16::int[], $17::text[], $18::timestamptz[], $19::timestamptz[])
          AS u(bfid, dir_id, name, ns_path, size, crc, sanity_size, sanity_crc, file_no, uid, gid, owner, created_at, updated_at)`,
    [
      volumeId, family.storageGroup, family.fileFamily, family.wrapper, family.library,
      col('bfid'), col('dirId'), col('name'), col('path'), col('size'), col('crc'), col('sanitySize'), col('sanityCrc'),
      col('fileNo'), col('uid'), col('gid'), col('owner'), col('createdAt'), col('updatedAt'),
    ],
  );
}
