import type { Queryable } from '../src/db/index.ts';

export type ShelfPolicy = 'fail' | 'operator';

/** Set the shelf policy; returns the volume id and the policy it had, null for no such volume. */
export async function setShelfPolicy(db: Queryable, label: string, policy: ShelfPolicy, at: Date): Promise<{ id: number; old: ShelfPolicy } | null> {
  const r = await db.query<{ id: string; old: ShelfPolicy }>(
    `UPDATE volumes v SET shelf_policy = $2, modified_at = $3
       FROM (SELECT id, shelf_policy AS old FROM volumes WHERE label = $1 FOR UPDATE) o
      WHERE v.id = o.id
      RETURNING v.id, o.old`,
    [label, policy, at],
  );
  const row = r.rows[0];
  return row ? { id: Number(row.id), old: row.old } : null;
}

/** Requests handed to a mover for this volume (assigned before the mount shows in the volume's location). */
export async function assignedRequests(db: Queryable, label: string): Promise<number> {
  const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM requests WHERE volume_label = $1 AND state IN ('assigned', 'active')`, [label]);
  return Number(r.rows[0]!.n);
}
