import type { Queryable } from '../src/db/pool.ts';
import type { VolumeFileCounts } from './lifecycle.ts';

/** The SQL of the volume lifecycle (delete, restore, recycle, erase, storage group, write protection). */

export async function fileCounts(db: Queryable, volumeId: number): Promise<VolumeFileCounts> {
  const { rows } = await db.query<VolumeFileCounts>(
    `SELECT count(*) FILTER (WHERE state = 'active')::int AS active,
            count(*) FILTER (WHERE state = 'writing' AND abandoned_at IS NULL)::int AS writing,
            count(*)::int AS total
     FROM files WHERE volume_id = $1`,
    [volumeId],
  );
  return rows[0]!;
}

export async function labelTaken(db: Queryable, label: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM volumes WHERE label = $1', [label])).rows.length > 0;
}

/** Rename a volume and set its system access inhibit (DELETED on delete, none on restore). */
export async function renameVolume(db: Queryable, id: number, label: string, systemAccess: 'DELETED' | 'none', at: Date): Promise<void> {
  await db.query(
    `UPDATE volumes SET label = $2, system_inhibit_access = $3, system_inhibit_access_at = $4, modified_at = $4 WHERE id = $1`,
    [id, label, systemAccess, at],
  );
}

/**
 * Files whose bytes are about to be overwritten or forgotten lose their
 * position (their rows stay, deleted, for reports); the counter trigger takes
 * them off the volume. Returns how many were detached.
 */
export async function detachFiles(db: Queryable, volumeId: number): Promise<number> {
  const { rowCount } = await db.query('UPDATE files SET volume_id = NULL, file_no = NULL WHERE volume_id = $1', [volumeId]);
  return rowCount ?? 0;
}

export async function deleteVolumeRow(db: Queryable, id: number): Promise<void> {
  await db.query('DELETE FROM volumes WHERE id = $1', [id]);
}

/**
 * Back to blank (Enstore's recycle): family `sg.none.none`, no end-of-data,
 * full capacity, no state inhibits, every counter zero except mounts. It is
 * declared anew, so it joins the end of its blank pool (oldest first).
 */
export async function resetToBlank(db: Queryable, id: number, label: string, storageGroup: string, at: Date): Promise<void> {
  await db.query(
    `UPDATE volumes SET label = $2, storage_group = $3, file_family = 'none', wrapper = 'none',
       eod_file_no = NULL, remaining_bytes = capacity_bytes,
       system_inhibit_access = 'none', system_inhibit_state = 'none', user_inhibit_state = 'none',
       system_inhibit_access_at = $4, system_inhibit_state_at = $4, user_inhibit_state_at = $4,
       read_accesses = 0, write_accesses = 0, read_errors = 0, write_errors = 0,
       active_files = 0, active_bytes = 0, deleted_files = 0, deleted_bytes = 0, unknown_files = 0, unknown_bytes = 0,
       first_access_at = NULL, last_access_at = NULL, declared_at = $4, modified_at = $4
     WHERE id = $1`,
    [id, label, storageGroup, at],
  );
}

export async function setStorageGroup(db: Queryable, id: number, storageGroup: string, at: Date): Promise<void> {
  await db.query('UPDATE volumes SET storage_group = $2, modified_at = $3 WHERE id = $1', [id, storageGroup, at]);
}

export async function setWriteProtected(db: Queryable, id: number, value: 'y' | 'n', at: Date): Promise<void> {
  await db.query('UPDATE volumes SET write_protected = $2, modified_at = $3 WHERE id = $1', [id, value, at]);
}
