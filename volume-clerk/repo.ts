import type { Queryable } from '../src/db/pool.ts';
import { iso, isoOrNull } from '../src/db/rows.ts';
import type { InhibitField, InhibitKind, InhibitPair, VolumeFamily, VolumeFacts } from './inhibits.ts';
import type { Candidate } from './volume-selection.ts';

export type LocationKind = 'slot' | 'drive' | 'mailslot' | 'shelf' | 'unknown';

/** A volume record (Enstore's volume table, DESIGN §4). */
export interface Volume extends VolumeFacts {
  readonly id: number;
  readonly library: string;
  readonly mediaType: string;
  readonly blockSize: number;
  /** Next file number to write; null = blank, no VOL1 on tape yet. */
  readonly eodFileNo: number | null;
  /** `storage_group.file_family.wrapper`. */
  readonly volumeFamily: string;
  readonly userInhibit: { readonly access: 'none' | 'NOACCESS' | 'NOTALLOWED'; readonly state: 'none' | 'full' | 'readonly' | 'migrated' };
  readonly location: { readonly kind: LocationKind; readonly ref: string | null };
  readonly declaredAt: string;
  readonly firstAccessAt: string | null;
  readonly lastAccessAt: string | null;
  readonly modifiedAt: string;
  readonly mounts: number;
  readonly readAccesses: number;
  readonly writeAccesses: number;
  readonly readErrors: number;
  readonly writeErrors: number;
  readonly activeFiles: number;
  readonly activeBytes: number;
  readonly deletedFiles: number;
  readonly deletedBytes: number;
  readonly unknownFiles: number;
  readonly unknownBytes: number;
  readonly comment: string;
}

interface VolumeRow {
  id: number;
  label: string;
  library: string;
  media_type: string;
  capacity_bytes: number;
  remaining_bytes: number;
  block_size: number;
  eod_file_no: number | null;
  storage_group: string;
  file_family: string;
  wrapper: string;
  system_inhibit_access: InhibitPair['access'];
  system_inhibit_state: InhibitPair['state'];
  user_inhibit_access: Volume['userInhibit']['access'];
  user_inhibit_state: Volume['userInhibit']['state'];
  write_protected: 'u' | 'y' | 'n';
  location_kind: LocationKind;
  location_ref: string | null;
  shelf_policy: 'fail' | 'operator';
  declared_at: Date;
  first_access_at: Date | null;
  last_access_at: Date | null;
  modified_at: Date;
  mounts: number;
  read_accesses: number;
  write_accesses: number;
  read_errors: number;
  write_errors: number;
  active_files: number;
  active_bytes: number;
  deleted_files: number;
  deleted_bytes: number;
  unknown_files: number;
  unknown_bytes: number;
  comment: string;
}

function toVolume(r: VolumeRow): Volume {
  return {
    id: r.id,
    label: r.label,
    library: r.library,
    mediaType: r.media_type,
    capacityBytes: r.capacity_bytes,
    remainingBytes: r.remaining_bytes,
    blockSize: r.block_size,
    eodFileNo: r.eod_file_no,
    storageGroup: r.storage_group,
    fileFamily: r.file_family,
    wrapper: r.wrapper,
    volumeFamily: `${r.storage_group}.${r.file_family}.${r.wrapper}`,
    systemInhibit: { access: r.system_inhibit_access, state: r.system_inhibit_state },
    userInhibit: { access: r.user_inhibit_access, state: r.user_inhibit_state },
    writeProtected: r.write_protected,
    location: { kind: r.location_kind, ref: r.location_ref },
    shelfPolicy: r.shelf_policy,
    declaredAt: iso(r.declared_at),
    firstAccessAt: isoOrNull(r.first_access_at),
    lastAccessAt: isoOrNull(r.last_access_at),
    modifiedAt: iso(r.modified_at),
    mounts: r.mounts,
    readAccesses: r.read_accesses,
    writeAccesses: r.write_accesses,
    readErrors: r.read_errors,
    writeErrors: r.write_errors,
    activeFiles: r.active_files,
    activeBytes: r.active_bytes,
    deletedFiles: r.deleted_files,
    deletedBytes: r.deleted_bytes,
    unknownFiles: r.unknown_files,
    unknownBytes: r.unknown_bytes,
    comment: r.comment,
  };
}

export async function volumeByLabel(db: Queryable, label: string, options: { forUpdate?: boolean } = {}): Promise<Volume | null> {
  const { rows } = await db.query<VolumeRow>(`SELECT * FROM volumes WHERE label = $1${options.forUpdate ? ' FOR UPDATE' : ''}`, [label]);
  return rows[0] ? toVolume(rows[0]) : null;
}

export interface VolumeFilter {
  readonly library?: string;
  readonly storageGroup?: string;
  readonly fileFamily?: string;
  readonly wrapper?: string;
}

export async function listVolumes(db: Queryable, f: VolumeFilter = {}): Promise<Volume[]> {
  const { rows } = await db.query<VolumeRow>(
    `SELECT * FROM volumes
     WHERE ($1::text IS NULL OR library = $1) AND ($2::text IS NULL OR storage_group = $2)
       AND ($3::text IS NULL OR file_family = $3) AND ($4::text IS NULL OR wrapper = $4)
     ORDER BY label`,
    [f.library ?? null, f.storageGroup ?? null, f.fileFamily ?? null, f.wrapper ?? null],
  );
  return rows.map(toVolume);
}

export interface HistoryEntry {
  /** The label the volume had when the change was made (LABEL.deleted after a delete). */
  readonly label: string;
  readonly at: string;
  readonly kind: string;
  /** What it was before the change (null when there is no before, or for rows older than schema 5). */
  readonly oldValue: string | null;
  readonly value: string | null;
  readonly actor: string;
  readonly reason: string | null;
}

export interface NewHistory {
  readonly kind: string;
  readonly oldValue?: string | null;
  readonly value: string | null;
  readonly actor: string;
  readonly reason?: string | null;
  readonly at: Date;
}

/** One history row per volume id (set-based: one statement for any number of volumes). */
export async function addHistory(db: Queryable, volumeIds: readonly number[], h: NewHistory): Promise<void> {
  if (volumeIds.length === 0) return;
  await db.query(
    `INSERT INTO volume_history (volume_id, at, kind, old_value, value, actor, reason) SELECT unnest($1::bigint[]), $2, $3, $7, $4, $5, $6`,
    [volumeIds, h.at, h.kind, h.value, h.actor, h.reason ?? null, h.oldValue ?? null],
  );
}

export async function volumeHistory(db: Queryable, volumeId: number): Promise<HistoryEntry[]> {
  const { rows } = await db.query<{ label: string; at: Date; kind: string; old_value: string | null; value: string | null; actor: string; reason: string | null }>(
    'SELECT label, at, kind, old_value, value, actor, reason FROM volume_history WHERE volume_id = $1 ORDER BY at, id',
    [volumeId],
  );
  return rows.map((r) => ({ label: r.label, at: iso(r.at), kind: r.kind, oldValue: r.old_value, value: r.value, actor: r.actor, reason: r.reason }));
}

/**
 * The id of the volume that last had `label` in its history: how the history
 * of an erased volume (whose row is gone) is found.
 */
export async function historyVolumeId(db: Queryable, label: string): Promise<number | null> {
  const { rows } = await db.query<{ volume_id: number }>('SELECT volume_id FROM volume_history WHERE label = $1 ORDER BY id DESC LIMIT 1', [label]);
  return rows[0]?.volume_id ?? null;
}

export interface LibraryMedia {
  readonly library: string;
  readonly mediaType: string;
  readonly capacityBytes: number;
  readonly blockSize: number;
}

export async function libraryMedia(db: Queryable, library: string): Promise<LibraryMedia | null> {
  const { rows } = await db.query<{ name: string; media_type: string; capacity_bytes: number; block_size: number }>(
    `SELECT l.name, l.media_type, m.capacity_bytes, m.block_size FROM libraries l JOIN media_types m ON m.name = l.media_type WHERE l.name = $1`,
    [library],
  );
  const r = rows[0];
  return r ? { library: r.name, mediaType: r.media_type, capacityBytes: r.capacity_bytes, blockSize: r.block_size } : null;
}

export async function mediaTypeExists(db: Queryable, name: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM media_types WHERE name = $1', [name])).rows.length > 0;
}

export interface NewVolume {
  readonly label: string;
  readonly library: string;
  readonly mediaType: string;
  readonly location: { kind: LocationKind; ref: string | null };
  readonly storageGroup: string;
  readonly comment: string;
}

/**
 * Declare volumes (blank: family `sg.none.none`, full capacity from the media
 * type) unless their label exists; returns the ids and labels inserted now.
 */
export async function insertVolumes(db: Queryable, vols: readonly NewVolume[], at: Date): Promise<{ id: number; label: string }[]> {
  const { rows } = await db.query<{ id: number; label: string }>(
    `INSERT INTO volumes (label, library, media_type, capacity_bytes, remaining_bytes, block_size, storage_group,
                          location_kind, location_ref, comment, declared_at, modified_at)
     SELECT u.label, u.library, u.media, m.capacity_bytes, m.capacity_bytes, m.block_size, u.sg, u.loc_kind, u.loc_ref, u.comment, $8, $8
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u(label, library, media, sg, loc_kind, loc_ref, comment)
     JOIN media_types m ON m.name = u.media
     ON CONFLICT (label) DO NOTHING
     RETURNING id, label`,
    [
      vols.map((v) => v.label), vols.map((v) => v.library), vols.map((v) => v.mediaType), vols.map((v) => v.storageGroup),
      vols.map((v) => v.location.kind), vols.map((v) => v.location.ref), vols.map((v) => v.comment), at,
    ],
  );
  return rows;
}

/**
 * Writable candidates of a library for a request family, locked FOR UPDATE
 * in one order (pool, then age) so concurrent choosers queue behind each other
 * instead of deadlocking. A row another chooser changed meanwhile (a blank
 * given to another family) is re-checked against the WHERE and drops out.
 */
export async function lockWriteCandidates(db: Queryable, library: string, f: VolumeFamily, veto: readonly string[], limit = 200): Promise<Candidate[]> {
  const { rows } = await db.query<{ label: string; storage_group: string; file_family: string; wrapper: string; remaining_bytes: number; capacity_bytes: number; declared_at: Date }>(
    `SELECT label, storage_group, file_family, wrapper, remaining_bytes, capacity_bytes, declared_at FROM volumes
     WHERE library = $1
       AND system_inhibit_access = 'none' AND system_inhibit_state = 'none'
       AND user_inhibit_access = 'none' AND user_inhibit_state = 'none'
       AND write_protected = 'n' AND location_kind <> 'shelf'
       AND ((storage_group = $2 AND file_family = $3 AND wrapper IN ($4, 'none'))
         OR (storage_group IN ($2, 'none') AND file_family = 'none' AND wrapper = 'none'))
       AND label <> ALL($5::text[])
     ORDER BY CASE WHEN file_family = $3 AND wrapper = $4 THEN 0 WHEN file_family = $3 THEN 1 WHEN storage_group = $2 THEN 2 ELSE 3 END,
              declared_at, label
     LIMIT $6
     FOR UPDATE`,
    [library, f.storageGroup, f.fileFamily, f.wrapper, veto, limit],
  );
  return rows.map((r) => ({
    label: r.label, storageGroup: r.storage_group, fileFamily: r.file_family, wrapper: r.wrapper,
    remainingBytes: r.remaining_bytes, capacityBytes: r.capacity_bytes, declaredAt: r.declared_at.getTime(),
  }));
}

/** Give a volume its family (it came from a blank pool); returns its id. */
export async function assignFamily(db: Queryable, label: string, f: VolumeFamily, at: Date): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `UPDATE volumes SET storage_group = $2, file_family = $3, wrapper = $4, modified_at = $5 WHERE label = $1 RETURNING id`,
    [label, f.storageGroup, f.fileFamily, f.wrapper, at],
  );
  return rows[0]!.id;
}

const INHIBIT_COLUMNS: Record<InhibitKind, Record<InhibitField, string>> = {
  system: { access: 'system_inhibit_access', state: 'system_inhibit_state' },
  user: { access: 'user_inhibit_access', state: 'user_inhibit_state' },
};

/** Set one inhibit on volumes where it differs; returns the ids changed. */
export async function setInhibit(db: Queryable, labels: readonly string[], kind: InhibitKind, field: InhibitField, value: string, at: Date): Promise<number[]> {
  const col = INHIBIT_COLUMNS[kind][field];
  const { rows } = await db.query<{ id: number }>(
    `UPDATE volumes SET ${col} = $2, ${col}_at = $3, modified_at = $3 WHERE label = ANY($1::text[]) AND ${col} IS DISTINCT FROM $2 RETURNING id`,
    [labels, value, at],
  );
  return rows.map((r) => r.id);
}

/**
 * Advance end-of-data and use up space, never backwards: the row changes only
 * when the new end-of-data is past the recorded one. Null when refused.
 */
export async function recordWrite(db: Queryable, label: string, eodFileNo: number, bytesWritten: number, at: Date): Promise<Volume | null> {
  const { rows } = await db.query<VolumeRow>(
    `UPDATE volumes SET eod_file_no = $2, remaining_bytes = greatest(0, remaining_bytes - $3),
       write_accesses = write_accesses + 1, first_access_at = coalesce(first_access_at, $4), last_access_at = $4, modified_at = $4
     WHERE label = $1 AND (eod_file_no IS NULL OR eod_file_no < $2)
     RETURNING *`,
    [label, eodFileNo, bytesWritten, at],
  );
  return rows[0] ? toVolume(rows[0]) : null;
}

/** Whether file `bfid` holds position `fileNo` of volume `label` (a replayed recordWrite). */
export async function fileIsAt(db: Queryable, label: string, fileNo: number, bfid: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'SELECT 1 FROM files f JOIN volumes v ON v.id = f.volume_id WHERE v.label = $1 AND f.file_no = $2 AND f.bfid = $3',
    [label, fileNo, bfid],
  );
  return (rowCount ?? 0) > 0;
}

/** Counter and location updates of mounts, reads and errors. */
export async function touchVolume(
  db: Queryable,
  label: string,
  change: { mounts?: number; readAccesses?: number; readErrors?: number; writeErrors?: number; location?: { kind: LocationKind; ref: string | null }; access?: boolean },
  at: Date,
): Promise<Volume | null> {
  const { rows } = await db.query<VolumeRow>(
    `UPDATE volumes SET mounts = mounts + $2, read_accesses = read_accesses + $3, read_errors = read_errors + $4, write_errors = write_errors + $5,
       location_kind = coalesce($6, location_kind), location_ref = CASE WHEN $6::text IS NULL THEN location_ref ELSE $7 END,
       first_access_at = CASE WHEN $8 THEN coalesce(first_access_at, $9) ELSE first_access_at END,
       last_access_at = CASE WHEN $8 THEN $9 ELSE last_access_at END,
       modified_at = $9
     WHERE label = $1 RETURNING *`,
    [label, change.mounts ?? 0, change.readAccesses ?? 0, change.readErrors ?? 0, change.writeErrors ?? 0, change.location?.kind ?? null, change.location?.ref ?? null, change.access ?? false, at],
  );
  return rows[0] ? toVolume(rows[0]) : null;
}

export async function setComment(db: Queryable, label: string, comment: string, at: Date): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(`UPDATE volumes SET comment = $2, modified_at = $3 WHERE label = $1 RETURNING id`, [label, comment, at]);
  return rows[0]?.id ?? null;
}

/** How many volumes a storage group holds in a library, and its quota (null: none set). */
export async function storageGroupQuota(db: Queryable, library: string, storageGroup: string): Promise<{ used: number; quota: number | null }> {
  const { rows } = await db.query<{ used: number; quota: number | null }>(
    `SELECT (SELECT count(*)::int FROM volumes WHERE library = $1 AND storage_group = $2) AS used,
            (SELECT quota FROM quotas WHERE library = $1 AND storage_group = $2) AS quota`,
    [library, storageGroup],
  );
  return rows[0]!;
}
