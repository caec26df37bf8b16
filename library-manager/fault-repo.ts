/**
 * The SQL of the library manager's fault accounting (migration 0006):
 * suspect (volume, mover) pairs, mover failure counts, NOACCESS events per
 * robot and the broken state. Every timestamp comes from the caller's clock.
 */
import type { Queryable } from '../src/db/pool.ts';
import type { MoverFailureRecord } from './fault-policy.ts';

/**
 * A pair stays suspect until its mover is brought back online (the rows are
 * deleted) or its volume's system access inhibit is set back to `none` after
 * the pair was made (`tapestry volume clear <label> system access`: the
 * volume clerk's history row says so — no second place to clear).
 * A condition on `suspect_pairs s`.
 */
export const LIVE_SUSPECT = `NOT EXISTS (SELECT 1 FROM volume_history h
                  WHERE h.label = s.volume_label AND h.kind = 'system_inhibit_access' AND h.value = 'none' AND h.at >= s.created_at)`;

/** The live pairs with why they were made, for operators (`tapestry library suspects`). */
export async function suspectPairDetails(db: Queryable, library: string): Promise<{ volume: string; mover: string; errorCode: string; errorMessage: string | null; at: Date }[]> {
  const { rows } = await db.query<{ volume: string; mover: string; errorCode: string; errorMessage: string | null; at: Date }>(
    `SELECT s.volume_label AS volume, s.mover, s.error_code AS "errorCode", s.error_message AS "errorMessage", s.created_at AS at
       FROM suspect_pairs s WHERE s.library = $1 AND ${LIVE_SUSPECT} ORDER BY s.volume_label, s.mover`,
    [library],
  );
  return rows;
}

/** Make (volume, mover) suspect; returns every mover now suspect on the volume. */
export async function addSuspect(db: Queryable, p: { volume: string; mover: string; library: string; code: string; message: string; at: Date }): Promise<string[]> {
  await db.query(
    `INSERT INTO suspect_pairs (volume_label, mover, library, error_code, error_message, created_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (volume_label, mover) DO UPDATE SET library = EXCLUDED.library, error_code = EXCLUDED.error_code,
       error_message = EXCLUDED.error_message, created_at = EXCLUDED.created_at`,
    [p.volume, p.mover, p.library, p.code, p.message, p.at],
  );
  const { rows } = await db.query<{ mover: string }>(`SELECT s.mover FROM suspect_pairs s WHERE s.volume_label = $1 AND ${LIVE_SUSPECT} ORDER BY s.mover`, [p.volume]);
  return rows.map((r) => r.mover);
}

/** A mover's consecutive failures and the times of its failures since `since` (and since its last `mover online`). */
export async function moverFailureRecord(db: Queryable, mover: string, since: Date): Promise<MoverFailureRecord> {
  const { rows: [m] } = await db.query<{ consecutive_failures: number; failures_since: Date | null }>(
    'SELECT consecutive_failures, failures_since FROM movers WHERE name = $1',
    [mover],
  );
  const from = m?.failures_since && m.failures_since > since ? m.failures_since : since;
  const { rows } = await db.query<{ at: Date }>('SELECT at FROM mover_failures WHERE mover = $1 AND at > $2 ORDER BY at', [mover, from]);
  return { consecutive: m?.consecutive_failures ?? 0, failures: rows.map((r) => r.at.getTime()) };
}

export async function saveMoverFailure(db: Queryable, f: { mover: string; at: Date; code: string; message: string; volume: string | null; requestId: number; consecutive: number }): Promise<void> {
  await db.query('INSERT INTO mover_failures (mover, at, code, volume_label, request_id, message) VALUES ($1, $2, $3, $4, $5, $6)', [f.mover, f.at, f.code, f.volume, f.requestId, f.message]);
  await db.query('UPDATE movers SET consecutive_failures = $2 WHERE name = $1', [f.mover, f.consecutive]);
}


/** `mover online`: the drive was looked at. Its counts start afresh and its suspect pairs are forgotten. */
export async function resetMoverFaults(db: Queryable, mover: string, at: Date): Promise<{ suspectsCleared: number }> {
  await db.query('UPDATE movers SET consecutive_failures = 0, failures_since = $2 WHERE name = $1', [mover, at]);
  const { rowCount } = await db.query('DELETE FROM suspect_pairs WHERE mover = $1', [mover]);
  return { suspectsCleared: rowCount ?? 0 };
}

/** What the fault policy needs to know about a volume: its space and its library's robot. */
export async function volumeFaultFacts(db: Queryable, label: string): Promise<{ remainingBytes: number; capacityBytes: number; library: string; robot: string; systemAccess: string; systemState: string } | null> {
  const { rows } = await db.query<{ remaining_bytes: string; capacity_bytes: string; library: string; robot: string; system_inhibit_access: string; system_inhibit_state: string }>(
    `SELECT v.remaining_bytes, v.capacity_bytes, v.library, l.robot, v.system_inhibit_access, v.system_inhibit_state
       FROM volumes v JOIN libraries l ON l.name = v.library WHERE v.label = $1`,
    [label],
  );
  const v = rows[0];
  return v ? { remainingBytes: Number(v.remaining_bytes), capacityBytes: Number(v.capacity_bytes), library: v.library, robot: v.robot, systemAccess: v.system_inhibit_access, systemState: v.system_inhibit_state } : null;
}

/** Record that the library manager set `volume` NOACCESS; returns the NOACCESS times on its robot since `since`, and the robot's last reset. */
export async function recordNoaccess(db: Queryable, e: { robot: string; volume: string; library: string; mover: string; at: Date }, since: Date): Promise<{ times: number[]; resetAt: number | null }> {
  await db.query('INSERT INTO noaccess_events (robot, volume_label, library, mover, at) VALUES ($1, $2, $3, $4, $5)', [e.robot, e.volume, e.library, e.mover, e.at]);
  const { rows } = await db.query<{ at: Date }>('SELECT at FROM noaccess_events WHERE robot = $1 AND at > $2 ORDER BY at', [e.robot, since]);
  const { rows: [r] } = await db.query<{ reset_at: Date | null }>('SELECT max(fault_reset_at) AS reset_at FROM libraries WHERE robot = $1', [e.robot]);
  return { times: rows.map((x) => x.at.getTime()), resetAt: r?.reset_at ? r.reset_at.getTime() : null };
}

/** Every library of the robot goes broken (those already broken stay as they are); returns the libraries changed. */
export async function breakLibraries(db: Queryable, robot: string, reason: string, at: Date): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `UPDATE libraries SET state = 'broken', state_reason = $2, state_changed_at = $3 WHERE robot = $1 AND state <> 'broken' RETURNING name`,
    [robot, reason, at],
  );
  // The leaders of those libraries (maybe other processes) schedule again and see the state.
  for (const r of rows) await db.query(`SELECT pg_notify('tapestry_queue', $1)`, [r.name]);
  return rows.map((r) => r.name);
}

/**
 * `library reset`: a broken library goes back to unlocked; any library's
 * NOACCESS count starts afresh. Returns the state before, null for no such library.
 */
export async function resetLibrary(db: Queryable, library: string, at: Date): Promise<{ previous: string; state: string } | null> {
  const { rows } = await db.query<{ previous: string; state: string }>(
    `UPDATE libraries l SET fault_reset_at = $2,
            state = CASE WHEN p.previous = 'broken' THEN 'unlocked' ELSE l.state END,
            state_reason = CASE WHEN p.previous = 'broken' THEN 'library reset' ELSE l.state_reason END,
            state_changed_at = CASE WHEN p.previous = 'broken' THEN $2 ELSE l.state_changed_at END
       FROM (SELECT state AS previous FROM libraries WHERE name = $1 FOR UPDATE) p
      WHERE l.name = $1 RETURNING p.previous, l.state`,
    [library, at],
  );
  if (rows[0]) await db.query(`SELECT pg_notify('tapestry_queue', $1)`, [library]);
  return rows[0] ?? null;
}

/** Fail every queued request for `volume` (its reads) with `code`; returns their ids. */
export async function failQueuedOfVolume(db: Queryable, volume: string, code: string, message: string): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `UPDATE requests SET state = 'failed', error_code = $2, error_message = $3, finished_at = now()
      WHERE volume_label = $1 AND state = 'queued' RETURNING id`,
    [volume, code, message],
  );
  return rows.map((r) => Number(r.id));
}

/**
 * For each request, the mover of its last transfer when that transfer failed
 * with one of `codes`: the scheduler offers the retry to the other movers.
 */
export async function lastFailedMovers(db: Queryable, requestIds: readonly number[], codes: readonly string[]): Promise<Map<number, string>> {
  if (requestIds.length === 0) return new Map();
  const { rows } = await db.query<{ request_id: string; mover: string; ok: boolean | null; error_code: string | null }>(
    `SELECT DISTINCT ON (request_id) request_id, mover, ok, error_code FROM transfers
      WHERE request_id = ANY($1::bigint[]) AND finished_at IS NOT NULL ORDER BY request_id, id DESC`,
    [requestIds],
  );
  return new Map(rows.filter((r) => r.ok === false && r.error_code !== null && codes.includes(r.error_code)).map((r) => [Number(r.request_id), r.mover]));
}
