import type { Queryable } from '../src/db/pool.ts';
import { iso, isoOrNull } from '../src/db/rows.ts';
import { TapestryError } from '../src/errors/index.ts';
import { parsePath } from '../src/namespace/paths.ts';
import { walkPath } from '../src/namespace/repo.ts';
import { describeLocation } from './location.ts';
import type { FamilySelector } from './params.ts';
import type {
  DriveLine, FamilyReport, FamilyVolume, FilesReport, InhibitsView, LocationKind, TransferCounts, UsageLine, UsageReport,
  VolumeLine, VolumesReport, VolumeStatsLine, WhereFile, WhereReport,
} from './types.ts';

/**
 * The reports' SQL: read-only, set-based, over the catalogue the clerks and
 * the library manager write (files, volumes, volume_history, transfers).
 *
 * A mount is a `volume_history` row of kind `location` whose value is
 * `drive:<name>` (the volume clerk writes one each time a volume enters a
 * drive); the `mounts` table is not filled yet, so it is not used.
 */

const LAST_MOUNT = `LEFT JOIN LATERAL (
    SELECT max(h.at) AS last_mount_at FROM volume_history h
    WHERE h.volume_id = v.id AND h.kind = 'location' AND h.value LIKE 'drive:%'
  ) lm ON true`;

interface VolumeCols {
  label: string;
  library: string;
  storage_group: string;
  file_family: string;
  wrapper: string;
  location_kind: LocationKind;
  location_ref: string | null;
  system_inhibit_access: string;
  system_inhibit_state: string;
  user_inhibit_access: string;
  user_inhibit_state: string;
}

const family = (v: VolumeCols): string => `${v.storage_group}.${v.file_family}.${v.wrapper}`;
const inhibits = (v: VolumeCols): InhibitsView => ({
  systemAccess: v.system_inhibit_access, systemState: v.system_inhibit_state, userAccess: v.user_inhibit_access, userState: v.user_inhibit_state,
});

/** A file's state for people: a failed write that kept its tape position shows as `abandoned`. */
const fileState = (state: string, abandoned: boolean): string => (abandoned ? 'abandoned' : state);

/** Files on the volumes in tape order, with each volume's oldest and youngest active file. */
export async function filesOnVolumes(db: Queryable, labels: readonly string[]): Promise<FilesReport> {
  const { rows: vols } = await db.query<VolumeCols & {
    active_files: number; active_bytes: number;
    o_path: string | null; o_bfid: string | null; o_at: Date | null; y_path: string | null; y_bfid: string | null; y_at: Date | null;
  }>(
    `SELECT v.label, v.library, v.storage_group, v.file_family, v.wrapper, v.active_files, v.active_bytes,
            o.ns_path AS o_path, o.bfid AS o_bfid, o.created_at AS o_at, y.ns_path AS y_path, y.bfid AS y_bfid, y.created_at AS y_at
     FROM volumes v
     LEFT JOIN LATERAL (SELECT ns_path, bfid, created_at FROM files f WHERE f.volume_id = v.id AND f.state = 'active'
                        ORDER BY created_at, file_no LIMIT 1) o ON true
     LEFT JOIN LATERAL (SELECT ns_path, bfid, created_at FROM files f WHERE f.volume_id = v.id AND f.state = 'active'
                        ORDER BY created_at DESC, file_no DESC LIMIT 1) y ON true
     WHERE v.label = ANY($1::text[])
     ORDER BY array_position($1::text[], v.label)`,
    [labels],
  );
  const missing = labels.filter((l) => !vols.some((v) => v.label === l));
  if (missing.length > 0) throw new TapestryError('NO_SUCH_VOLUME', `no volume ${missing.join(', ')}`, { context: { volumes: missing } });

  const { rows: files } = await db.query<{ label: string; file_no: number; bfid: string; size: number; crc_adler32: number | null; ns_path: string; state: string; abandoned: boolean; created_at: Date }>(
    `SELECT v.label, f.file_no, f.bfid, f.size, f.crc_adler32, f.ns_path, f.state, f.abandoned_at IS NOT NULL AS abandoned, f.created_at
     FROM volumes v JOIN files f ON f.volume_id = v.id AND f.file_no IS NOT NULL
     WHERE v.label = ANY($1::text[])
     ORDER BY array_position($1::text[], v.label), f.file_no`,
    [labels],
  );
  return {
    volumes: vols.map((v) => ({
      volume: v.label,
      volumeFamily: family(v),
      activeFiles: v.active_files,
      activeBytes: v.active_bytes,
      oldest: v.o_path !== null && v.o_at !== null ? { path: v.o_path, bfid: v.o_bfid!, createdAt: iso(v.o_at) } : null,
      youngest: v.y_path !== null && v.y_at !== null ? { path: v.y_path, bfid: v.y_bfid!, createdAt: iso(v.y_at) } : null,
    })),
    files: files.map((f) => ({
      volume: f.label, fileNo: f.file_no, bfid: f.bfid, size: f.size, crc: f.crc_adler32, path: f.ns_path, state: fileState(f.state, f.abandoned), createdAt: iso(f.created_at),
    })),
  };
}

const WHERE_COLUMNS = `f.ns_path, f.bfid, f.state, f.size, f.library, f.file_no, v.label, v.location_kind, v.location_ref`;
interface WhereRow {
  ns_path: string; bfid: string; state: string; size: number; library: string; file_no: number | null;
  label: string | null; location_kind: LocationKind | null; location_ref: string | null;
}
const toWhere = (r: WhereRow): WhereFile => ({
  path: r.ns_path, bfid: r.bfid, state: r.state, size: r.size, library: r.library, volume: r.label, fileNo: r.file_no,
  location: r.label !== null && r.location_kind !== null ? describeLocation(r.location_kind, r.location_ref) : null,
});

/**
 * Where a live file is, or every live file under a directory (recursively, by
 * path): its volume, file number, and where that volume is now.
 */
export async function whereIs(db: Queryable, rawPath: string, limit: number): Promise<WhereReport> {
  const p = parsePath(rawPath);
  const { rows: one } = await db.query<WhereRow>(
    `SELECT ${WHERE_COLUMNS} FROM files f LEFT JOIN volumes v ON v.id = f.volume_id
     WHERE f.ns_path = $1 AND f.state <> 'deleted' AND f.abandoned_at IS NULL`,
    [p.path],
  );
  if (one[0]) return { path: p.path, kind: 'file', files: one.map(toWhere), truncated: false };
  const dirs = await walkPath(db, p.components);
  const dir = dirs[p.components.length];
  if (dir === undefined) throw new TapestryError('NO_SUCH_FILE', `no file or directory ${p.path}`, { context: { path: p.path } });
  // The directory tree below, then its files through the by-directory index.
  const { rows } = await db.query<WhereRow>(
    `WITH RECURSIVE sub AS (
       SELECT id FROM namespace_dirs WHERE id = $1
       UNION ALL
       SELECT d.id FROM namespace_dirs d JOIN sub ON d.parent_id = sub.id
     )
     SELECT ${WHERE_COLUMNS} FROM sub JOIN files f ON f.dir_id = sub.id AND f.state <> 'deleted' AND f.abandoned_at IS NULL
     LEFT JOIN volumes v ON v.id = f.volume_id
     ORDER BY f.ns_path COLLATE "C" LIMIT $2`,
    [dir.id, limit + 1],
  );
  return { path: p.path, kind: 'directory', files: rows.slice(0, limit).map(toWhere), truncated: rows.length > limit };
}

type FamilyRow = VolumeCols & {
  active_files: number; active_bytes: number; remaining_bytes: number; mounts: number; last_mount_at: Date | null; youngest_at: Date | null;
};

/**
 * The volumes of a family with their last mount; with `olderThan`, only those
 * still in the library whose live files are all older than it (and that hold
 * at least one): the candidates to leave the library.
 */
export async function familyVolumes(db: Queryable, f: FamilySelector, options: { library?: string; olderThan?: Date }): Promise<FamilyReport> {
  const { rows } = await db.query<FamilyRow>(
    `SELECT v.label, v.library, v.storage_group, v.file_family, v.wrapper, v.active_files, v.active_bytes, v.remaining_bytes, v.mounts,
            v.location_kind, v.location_ref, v.system_inhibit_access, v.system_inhibit_state, v.user_inhibit_access, v.user_inhibit_state,
            lm.last_mount_at, y.youngest_at
     FROM volumes v
     ${LAST_MOUNT}
     LEFT JOIN LATERAL (SELECT max(created_at) AS youngest_at FROM files x
                        WHERE x.volume_id = v.id AND x.state <> 'deleted' AND x.abandoned_at IS NULL) y ON true
     WHERE v.file_family = $1 AND ($2::text IS NULL OR v.storage_group = $2) AND ($3::text IS NULL OR v.wrapper = $3)
       AND ($4::text IS NULL OR v.library = $4)
     ORDER BY lm.last_mount_at NULLS FIRST, v.label`,
    [f.fileFamily, f.storageGroup ?? null, f.wrapper ?? null, options.library ?? null],
  );
  const name = f.storageGroup ? `${f.storageGroup}.${f.fileFamily}.${f.wrapper}` : f.fileFamily;
  if (rows.length === 0) {
    throw new TapestryError('NOT_FOUND', `no volumes of file family ${name}${options.library ? ` in library ${options.library}` : ''}`, { context: { family: name, library: options.library ?? null } });
  }
  const cutoff = options.olderThan;
  const leaving = cutoff === undefined ? rows : rows.filter((r) => r.youngest_at !== null && r.youngest_at < cutoff && r.location_kind !== 'shelf');
  return {
    family: name,
    library: options.library ?? null,
    olderThan: cutoff ? iso(cutoff) : null,
    familyVolumes: rows.length,
    volumes: leaving.map((r): FamilyVolume => ({
      label: r.label, library: r.library, volumeFamily: family(r), activeFiles: r.active_files, activeBytes: r.active_bytes,
      remainingBytes: r.remaining_bytes, mounts: r.mounts, lastMountAt: isoOrNull(r.last_mount_at), youngestFileAt: isoOrNull(r.youngest_at),
      location: describeLocation(r.location_kind, r.location_ref), inhibits: inhibits(r),
    })),
  };
}

/** Every volume, least recently mounted first (never-mounted ones first of all). */
export async function volumesByLastMount(db: Queryable, options: { library?: string; inhibitedOnly?: boolean }): Promise<VolumesReport> {
  const { rows } = await db.query<FamilyRow>(
    `SELECT v.label, v.library, v.storage_group, v.file_family, v.wrapper, v.active_files, v.remaining_bytes, v.mounts,
            v.location_kind, v.location_ref, v.system_inhibit_access, v.system_inhibit_state, v.user_inhibit_access, v.user_inhibit_state,
            lm.last_mount_at
     FROM volumes v
     ${LAST_MOUNT}
     WHERE ($1::text IS NULL OR v.library = $1)
       AND (NOT $2 OR v.system_inhibit_access <> 'none' OR v.system_inhibit_state <> 'none' OR v.user_inhibit_access <> 'none' OR v.user_inhibit_state <> 'none')
     ORDER BY lm.last_mount_at NULLS FIRST, v.label`,
    [options.library ?? null, options.inhibitedOnly ?? false],
  );
  return {
    inhibitedOnly: options.inhibitedOnly ?? false,
    volumes: rows.map((r): VolumeLine => ({
      label: r.label, library: r.library, volumeFamily: family(r), mounts: r.mounts, lastMountAt: isoOrNull(r.last_mount_at),
      activeFiles: r.active_files, remainingBytes: r.remaining_bytes, location: describeLocation(r.location_kind, r.location_ref), inhibits: inhibits(r),
    })),
  };
}

/**
 * Per library, storage group and file family: volumes, active files and bytes
 * (the volumes' trigger-kept counters) and free space; plus a total line per
 * storage group. Deleted volumes are left out. Blank pools show as family `none`.
 */
export async function usage(db: Queryable, options: { library?: string }): Promise<UsageReport> {
  const { rows } = await db.query<{ library: string; storage_group: string; file_family: string | null; volumes: number; active_files: number; active_bytes: number; free_bytes: number }>(
    `SELECT library, storage_group, file_family, count(*) AS volumes, sum(active_files) AS active_files,
            sum(active_bytes) AS active_bytes, sum(remaining_bytes) AS free_bytes
     FROM volumes
     WHERE ($1::text IS NULL OR library = $1) AND system_inhibit_access <> 'DELETED'
     GROUP BY GROUPING SETS ((library, storage_group, file_family), (library, storage_group))
     ORDER BY library, storage_group, file_family NULLS LAST`,
    [options.library ?? null],
  );
  const lines = rows.map((r): UsageLine => ({
    library: r.library, storageGroup: r.storage_group, fileFamily: r.file_family, volumes: r.volumes,
    activeFiles: r.active_files, activeBytes: r.active_bytes, freeBytes: r.free_bytes,
  }));
  return { families: lines.filter((l) => l.fileFamily !== null), storageGroups: lines.filter((l) => l.fileFamily === null) };
}

/** Transfer outcome counters, grouped by one column of `transfers` (drive or volume_label). */
const transferCounts = (by: 'drive' | 'volume_label'): string => `
  SELECT t.${by} AS k,
         count(*) FILTER (WHERE t.direction = 'read' AND t.ok) AS reads,
         count(*) FILTER (WHERE t.direction = 'write' AND t.ok) AS writes,
         count(*) FILTER (WHERE t.direction = 'read' AND NOT t.ok) AS read_errors,
         count(*) FILTER (WHERE t.direction = 'write' AND NOT t.ok) AS write_errors,
         coalesce(sum(t.bytes) FILTER (WHERE t.direction = 'read' AND t.ok), 0) AS bytes_read,
         coalesce(sum(t.bytes) FILTER (WHERE t.direction = 'write' AND t.ok), 0) AS bytes_written,
         max(t.finished_at) FILTER (WHERE NOT t.ok) AS last_error_at,
         (array_agg(t.error_code ORDER BY t.finished_at DESC) FILTER (WHERE NOT t.ok))[1] AS last_error
  FROM transfers t WHERE t.${by} IS NOT NULL GROUP BY t.${by}`;

interface CountRow {
  reads: number | null; writes: number | null; read_errors: number | null; write_errors: number | null;
  bytes_read: number | null; bytes_written: number | null; last_error_at: Date | null; last_error: string | null;
}
const counts = (r: CountRow): TransferCounts => ({
  reads: r.reads ?? 0, writes: r.writes ?? 0, readErrors: r.read_errors ?? 0, writeErrors: r.write_errors ?? 0,
  bytesRead: r.bytes_read ?? 0, bytesWritten: r.bytes_written ?? 0, lastErrorAt: isoOrNull(r.last_error_at), lastError: r.last_error,
});

/** Per drive: mounts, bytes read and written, failed reads and writes. */
export async function driveStats(db: Queryable, options: { library?: string }): Promise<DriveLine[]> {
  const { rows } = await db.query<CountRow & { name: string; library: string; state: string; mounts: number | null }>(
    `SELECT d.name, d.library, d.state, m.mounts, t.*
     FROM drives d
     LEFT JOIN (SELECT substr(value, 7) AS drive, count(*) AS mounts FROM volume_history
                WHERE kind = 'location' AND value LIKE 'drive:%' GROUP BY 1) m ON m.drive = d.name
     LEFT JOIN (${transferCounts('drive')}) t ON t.k = d.name
     WHERE ($1::text IS NULL OR d.library = $1)
     ORDER BY d.name`,
    [options.library ?? null],
  );
  return rows.map((r) => ({ drive: r.name, library: r.library, state: r.state, mounts: r.mounts ?? 0, ...counts(r) }));
}

/** Per volume: mounts and transfer outcomes. */
export async function volumeStats(db: Queryable, options: { library?: string }): Promise<VolumeStatsLine[]> {
  const { rows } = await db.query<CountRow & { label: string; library: string; mounts: number; last_mount_at: Date | null }>(
    `SELECT v.label, v.library, v.mounts, lm.last_mount_at, t.*
     FROM volumes v
     ${LAST_MOUNT}
     LEFT JOIN (${transferCounts('volume_label')}) t ON t.k = v.label
     WHERE ($1::text IS NULL OR v.library = $1)
     ORDER BY v.label`,
    [options.library ?? null],
  );
  return rows.map((r) => ({ label: r.label, library: r.library, mounts: r.mounts, lastMountAt: isoOrNull(r.last_mount_at), ...counts(r) }));
}

/** A library named in a report's filter must exist, or the empty answer would hide a typo. */
export async function checkLibrary(db: Queryable, library: string | undefined): Promise<void> {
  if (library === undefined) return;
  const { rows } = await db.query('SELECT 1 FROM libraries WHERE name = $1', [library]);
  if (rows.length === 0) throw new TapestryError('NOT_FOUND', `no library "${library}"`, { context: { library } });
}
