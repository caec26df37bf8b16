import type { Queryable } from '../src/db/pool.ts';
import type { AutoReadonlyCandidate } from './auto-readonly.ts';

/**
 * Written volumes of a library that are still open for writes as far as the
 * system is concerned (no system state inhibit, not deleted), with the
 * creation time of their newest file. Volumes without files are blank.
 */
export async function autoReadonlyCandidates(db: Queryable, library: string): Promise<AutoReadonlyCandidate[]> {
  const { rows } = await db.query<{ label: string; file_family: string; newest: Date }>(
    `SELECT v.label, v.file_family, max(f.created_at) AS newest
     FROM volumes v JOIN files f ON f.volume_id = v.id
     WHERE v.library = $1 AND v.system_inhibit_state = 'none' AND v.system_inhibit_access <> 'DELETED'
     GROUP BY v.id ORDER BY v.label`,
    [library],
  );
  return rows.map((r) => ({ label: r.label, fileFamily: r.file_family, newestFileAt: r.newest.getTime() }));
}

/**
 * Set system readonly on the given volumes, each only if still no file was
 * created on it at or after its cutoff (a write may have landed since the
 * candidates were read) and no system state inhibit appeared meanwhile.
 * Returns the volumes changed.
 */
export async function markReadonly(db: Queryable, volumes: readonly { label: string; cutoff: number }[], at: Date): Promise<{ id: number; label: string }[]> {
  if (volumes.length === 0) return [];
  const { rows } = await db.query<{ id: number; label: string }>(
    `UPDATE volumes v SET system_inhibit_state = 'readonly', system_inhibit_state_at = $3, modified_at = $3
     FROM unnest($1::text[], $2::timestamptz[]) AS c(label, cutoff)
     WHERE v.label = c.label AND v.system_inhibit_state = 'none' AND v.system_inhibit_access <> 'DELETED'
       AND NOT EXISTS (SELECT 1 FROM files f WHERE f.volume_id = v.id AND f.created_at >= c.cutoff)
     RETURNING v.id, v.label`,
    [volumes.map((v) => v.label), volumes.map((v) => new Date(v.cutoff)), at],
  );
  return rows;
}

export async function libraryNames(db: Queryable): Promise<string[]> {
  return (await db.query<{ name: string }>('SELECT name FROM libraries ORDER BY name')).rows.map((r) => r.name);
}
