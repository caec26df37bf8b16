import type { Queryable } from '../src/db/pool.ts';
import { isoOrNull } from '../src/db/rows.ts';

/**
 * A storage group's use of a library: `used` counts every volume of the group
 * there (written, reserved blank, deleted), the number next-write-volume
 * compares with the quota before taking one more from the common pool.
 */
export interface QuotaUsage {
  readonly library: string;
  readonly storageGroup: string;
  readonly used: number;
  /** Of `used`: blank volumes reserved for the group (`sg.none.none`). */
  readonly blank: number;
  /** null: no quota, the group may take any number of common-pool volumes. */
  readonly quota: number | null;
  readonly updatedAt: string | null;
}

export async function quotaUsage(db: Queryable, filter: { library?: string; storageGroup?: string } = {}): Promise<QuotaUsage[]> {
  const { rows } = await db.query<{ library: string; storage_group: string; used: number; blank: number; quota: number | null; updated_at: Date | null }>(
    `SELECT library, storage_group, coalesce(v.used, 0) AS used, coalesce(v.blank, 0) AS blank, q.quota, q.updated_at
     FROM (SELECT library, storage_group, count(*)::int AS used,
                  count(*) FILTER (WHERE file_family = 'none' AND eod_file_no IS NULL)::int AS blank
           FROM volumes WHERE storage_group <> 'none' GROUP BY library, storage_group) v
     FULL JOIN quotas q USING (library, storage_group)
     WHERE ($1::text IS NULL OR library = $1) AND ($2::text IS NULL OR storage_group = $2)
     ORDER BY library, storage_group`,
    [filter.library ?? null, filter.storageGroup ?? null],
  );
  return rows.map((r) => ({ library: r.library, storageGroup: r.storage_group, used: r.used, blank: r.blank, quota: r.quota, updatedAt: isoOrNull(r.updated_at) }));
}

/** Blank volumes of a library's common pool (`none.none.none`), what quotas ration. */
export async function commonPoolBlanks(db: Queryable, library?: string): Promise<{ library: string; blank: number }[]> {
  const { rows } = await db.query<{ library: string; blank: number }>(
    `SELECT l.name AS library, count(v.id)::int AS blank
     FROM libraries l LEFT JOIN volumes v ON v.library = l.name AND v.storage_group = 'none' AND v.file_family = 'none' AND v.eod_file_no IS NULL
     WHERE $1::text IS NULL OR l.name = $1
     GROUP BY l.name ORDER BY l.name`,
    [library ?? null],
  );
  return rows;
}

export async function upsertQuota(db: Queryable, library: string, storageGroup: string, quota: number, at: Date): Promise<void> {
  await db.query(
    `INSERT INTO quotas (library, storage_group, quota, updated_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (library, storage_group) DO UPDATE SET quota = EXCLUDED.quota, updated_at = EXCLUDED.updated_at`,
    [library, storageGroup, quota, at],
  );
}

export async function deleteQuota(db: Queryable, library: string, storageGroup: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM quotas WHERE library = $1 AND storage_group = $2', [library, storageGroup]);
  return (rowCount ?? 0) > 0;
}

export async function libraryExists(db: Queryable, library: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM libraries WHERE name = $1', [library])).rows.length > 0;
}
