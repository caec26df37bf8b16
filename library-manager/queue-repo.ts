import type { Queryable } from '../src/db/index.ts';

/**
 * The library manager's queue as stored in `requests` (DESIGN §4): the queue
 * lives in Postgres so a restart loses nothing, and `unique_id` is UNIQUE so a
 * client's resubmission finds its first request instead of queueing twice.
 */
export type RequestState = 'queued' | 'assigned' | 'active' | 'done' | 'failed' | 'cancelled';
export type RequestKind = 'read' | 'write';

export interface RequestRow {
  id: number;
  uniqueId: string;
  library: string;
  kind: RequestKind;
  state: RequestState;
  priority: number;
  admin: boolean;
  key: string;
  bfid: string | null;
  volumeLabel: string | null;
  fileNo: number | null;
  size: number;
  storageGroup: string | null;
  fileFamily: string | null;
  wrapper: string | null;
  width: number | null;
  mover: string | null;
  attempts: number;
  maxRetry: number;
  dismountDelayMs: number | null;
  clientHost: string | null;
  clientUser: string | null;
  /** Writes: encp's callback listener, where the mover connects to receive the file. */
  clientCallback: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  result: Record<string, unknown> | null;
  /** The assigned mover's data port and the token encp presents there; set once the mover has the Assign. */
  dataAddress: string | null;
  token: string | null;
  queuedAt: Date;
  assignedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export type NewRequest = Pick<RequestRow, 'uniqueId' | 'library' | 'kind' | 'priority' | 'admin' | 'key' | 'size'> &
  Partial<Pick<RequestRow, 'bfid' | 'volumeLabel' | 'fileNo' | 'storageGroup' | 'fileFamily' | 'wrapper' | 'width' | 'maxRetry' | 'dismountDelayMs' | 'clientHost' | 'clientUser' | 'clientCallback'>>;

/** The columns of a RequestRow, aliased to its field names. */
export const REQUEST_COLUMNS = `id, unique_id AS "uniqueId", library, kind, state, priority, admin, key, bfid, volume_label AS "volumeLabel",
  file_no AS "fileNo", size, storage_group AS "storageGroup", file_family AS "fileFamily", wrapper, width, mover, attempts,
  max_retry AS "maxRetry", dismount_delay_ms AS "dismountDelayMs", client_host AS "clientHost", client_user AS "clientUser",
  client_callback AS "clientCallback", error_code AS "errorCode", error_message AS "errorMessage", result, data_address AS "dataAddress", token, queued_at AS "queuedAt", assigned_at AS "assignedAt",
  started_at AS "startedAt", finished_at AS "finishedAt"`;

/**
 * Queue a request. A duplicate `unique_id` returns the existing row with
 * `duplicate: true` (Enstore: "a duplicate unique_id → replied OK").
 */
export async function insertRequest(db: Queryable, r: NewRequest): Promise<{ row: RequestRow; duplicate: boolean }> {
  const inserted = await db.query<RequestRow>(
    `INSERT INTO requests (unique_id, library, kind, priority, admin, key, size, bfid, volume_label, file_no, storage_group,
       file_family, wrapper, width, max_retry, dismount_delay_ms, client_host, client_user, client_callback)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
     ON CONFLICT (unique_id) DO NOTHING
     RETURNING ${REQUEST_COLUMNS}`,
    [r.uniqueId, r.library, r.kind, r.priority, r.admin, r.key, r.size, r.bfid ?? null, r.volumeLabel ?? null, r.fileNo ?? null,
      r.storageGroup ?? null, r.fileFamily ?? null, r.wrapper ?? null, r.width ?? null, r.maxRetry ?? 3, r.dismountDelayMs ?? null,
      r.clientHost ?? null, r.clientUser ?? null, r.clientCallback ?? null],
  );
  if (inserted.rows[0]) return { row: inserted.rows[0], duplicate: false };
  const existing = await db.query<RequestRow>(`SELECT ${REQUEST_COLUMNS} FROM requests WHERE unique_id = $1`, [r.uniqueId]);
  return { row: existing.rows[0]!, duplicate: true };
}

export async function getRequest(db: Queryable, id: number): Promise<RequestRow | null> {
  const { rows } = await db.query<RequestRow>(`SELECT ${REQUEST_COLUMNS} FROM requests WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** Queued, assigned and active requests of a library, oldest first. */
export async function openRequests(db: Queryable, library: string): Promise<RequestRow[]> {
  const { rows } = await db.query<RequestRow>(`SELECT ${REQUEST_COLUMNS} FROM requests WHERE library = $1 AND ${OPEN} ORDER BY queued_at, id`, [library]);
  return rows;
}

/** A request the library manager still has to finish. */
export const OPEN = `state IN ('queued', 'assigned', 'active')`;

/** What an Assign carries from the file row (reads: the CRCs to check against). */
export interface AssignedFile {
  readonly nsPath: string;
  readonly crc: number | null;
  readonly sanityCrc: number | null;
  readonly sanitySize: number | null;
}

/**
 * queued → assigned to `mover`, its `transfers` row opened, and what the
 * Assign needs from the file row — one statement, as a pass makes it for
 * every file. Null when someone else took the request first.
 */
export async function assignRequest(
  db: Queryable,
  a: { id: number; mover: string; drive: string | null; volume: string | null },
): Promise<{ transferId: number; file: AssignedFile | null } | null> {
  const { rows } = await db.query<{ transfer_id: number; ns_path: string | null; crc_adler32: number | null; sanity_crc: number | null; sanity_size: number | null }>(
    `WITH a AS (
       UPDATE requests SET state = 'assigned', mover = $2, volume_label = coalesce($3::text, volume_label), assigned_at = now(), attempts = attempts + 1
        WHERE id = $1 AND state = 'queued' RETURNING id, bfid, kind, file_no, client_host),
     t AS (
       INSERT INTO transfers (request_id, bfid, direction, volume_label, file_no, mover, drive, client_host)
       SELECT a.id, a.bfid, a.kind, $3::text, CASE WHEN a.kind = 'read' THEN a.file_no END, $2, $4, a.client_host FROM a RETURNING id)
     SELECT t.id AS transfer_id, f.ns_path, f.crc_adler32, f.sanity_crc, f.sanity_size
       FROM t CROSS JOIN a LEFT JOIN files f ON f.bfid = a.bfid`,
    [a.id, a.mover, a.volume, a.drive],
  );
  const r = rows[0];
  if (!r) return null;
  return { transferId: r.transfer_id, file: r.ns_path === null ? null : { nsPath: r.ns_path, crc: r.crc_adler32, sanityCrc: r.sanity_crc, sanitySize: r.sanity_size } };
}

/** The newest unfinished transfers row of request $1 at mover $2. */
const OPEN_TRANSFER = `SELECT id FROM transfers WHERE request_id = $1 AND mover = $2 AND finished_at IS NULL ORDER BY id DESC LIMIT 1`;

/** The open transfers row of `id` at `mover` (a WorkDone re-sent after a reconnect does not know it). */
export async function openTransferId(db: Queryable, id: number, mover: string): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(OPEN_TRANSFER, [id, mover]);
  return rows[0]?.id ?? null;
}

/**
 * The usual end of a transfer, in one statement: the request done with its
 * result (only while `mover` holds it open), its transfers row closed, and the
 * mover's run of failures ended. False when the request is not open at this
 * mover; nothing was changed then and the caller looks closer.
 */
export async function finishSucceeded(
  db: Queryable,
  d: { id: number; mover: string; transferId: number | null; result: Record<string, unknown>; bytes: number; crc: number; fileNo: number; bfid: string | null },
): Promise<boolean> {
  const { rows } = await db.query<{ finished: boolean }>(
    `WITH r AS (
       UPDATE requests SET state = 'done', result = $3, finished_at = now()
        WHERE id = $1 AND mover = $2 AND state IN ('assigned', 'active') RETURNING id),
     t AS (
       UPDATE transfers SET finished_at = now(), ok = true, bytes = $5, crc_adler32 = $6, file_no = $7, bfid = coalesce($8, bfid), error_code = NULL, error_message = NULL
        WHERE id = coalesce($4, (${OPEN_TRANSFER}))
          AND EXISTS (SELECT 1 FROM r) RETURNING id),
     m AS (
       UPDATE movers SET consecutive_failures = 0 WHERE name = $2 AND consecutive_failures <> 0 AND EXISTS (SELECT 1 FROM r) RETURNING name)
     SELECT EXISTS (SELECT 1 FROM r) AS finished, (SELECT count(*) FROM t) AS transfers, (SELECT count(*) FROM m) AS movers`,
    [d.id, d.mover, d.result, d.transferId, d.bytes, d.crc, d.fileNo, d.bfid],
  );
  return rows[0]?.finished === true;
}

export async function markActive(db: Queryable, id: number, mover: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE requests SET state = 'active', started_at = now() WHERE id = $1 AND mover = $2 AND state IN ('assigned', 'active')`,
    [id, mover],
  );
  return rowCount === 1;
}

/** A terminal state: done (with the result) or failed (with the error). Only from an open state. */
export async function finishRequest(
  db: Queryable,
  id: number,
  outcome: { ok: true; result: Record<string, unknown> } | { ok: false; code: string; message: string },
): Promise<boolean> {
  const { rowCount } = outcome.ok
    ? await db.query(`UPDATE requests SET state = 'done', result = $2, finished_at = now() WHERE id = $1 AND state IN ('queued', 'assigned', 'active')`, [id, outcome.result])
    : await db.query(
      `UPDATE requests SET state = 'failed', error_code = $2, error_message = $3, finished_at = now() WHERE id = $1 AND state IN ('queued', 'assigned', 'active')`,
      [id, outcome.code, outcome.message],
    );
  return rowCount === 1;
}

/**
 * Back to the queue: no mover, no assignment times, and a write forgets its
 * volume (the next attempt may go to another one). Only open assignments.
 */
const REQUEUE = `UPDATE requests SET state = 'queued', mover = NULL, assigned_at = NULL, started_at = NULL, data_address = NULL, token = NULL,
       volume_label = CASE WHEN kind = 'write' THEN NULL ELSE volume_label END,
       error_code = coalesce($2, error_code), error_message = coalesce($3, error_message)
     WHERE state IN ('assigned', 'active')`;

/** Put a request back in the queue (its mover failed it with a retryable error). */
export async function requeue(db: Queryable, id: number, reason: { code: string; message: string }): Promise<boolean> {
  const { rowCount } = await db.query(`${REQUEUE} AND id = $1`, [id, reason.code, reason.message]);
  return rowCount === 1;
}

/** Every open request a mover holds, back to the queue (the mover's session ended). */
export async function requeueForMover(db: Queryable, mover: string, reason: { code: string; message: string }): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(`${REQUEUE} AND mover = $1 RETURNING id`, [mover, reason.code, reason.message]);
  return rows.map((r) => r.id);
}

/**
 * Publish an assignment once its mover has been sent the Assign: the request
 * API (any process) shows it to encp from here. False when the request moved
 * on meanwhile.
 */
export async function publishAssignment(db: Queryable, id: number, mover: string, dataAddress: string, token: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE requests SET data_address = $3, token = $4 WHERE id = $1 AND mover = $2 AND state IN ('assigned', 'active')`,
    [id, mover, dataAddress, token],
  );
  return rowCount === 1;
}

/**
 * A mover said hello holding only `keep` (its request in flight and those
 * whose WorkDone it will re-send): every other open request the database
 * gives it was never started there (an Assign lost with the old session) and
 * goes back to the queue.
 */
export async function requeueUnclaimedOfMover(db: Queryable, mover: string, keep: readonly number[], reason: { code: string; message: string }): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(`${REQUEUE} AND mover = $1 AND NOT (id = ANY($4::bigint[])) RETURNING id`, [mover, reason.code, reason.message, keep]);
  return rows.map((r) => r.id);
}

/**
 * After a take-over's grace period: every request of the library at a mover
 * that no connected mover claimed goes back to the queue; their transfers
 * rows are closed as failed.
 */
export async function requeueUnclaimed(db: Queryable, library: string, claimed: readonly number[], reason: { code: string; message: string }): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(`${REQUEUE} AND library = $1 AND NOT (id = ANY($4::bigint[])) RETURNING id`, [library, reason.code, reason.message, claimed]);
  const ids = rows.map((r) => r.id);
  if (ids.length > 0) {
    await db.query(`UPDATE transfers SET finished_at = now(), ok = false, error_code = $2, error_message = $3 WHERE request_id = ANY($1::bigint[]) AND finished_at IS NULL`, [ids, reason.code, reason.message]);
  }
  return ids;
}

/**
 * Queued writes whose file is already active: the bytes are on tape and
 * registered (the mover registered them, then its WorkDone was lost with a
 * crash). They finish as done with the catalogue's position instead of being
 * written a second time.
 */
export async function settleWrittenWrites(db: Queryable, library: string): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(SETTLE_WRITTEN_WRITES, [library]);
  return rows.map((r) => r.id);
}

/** The statement of settleWrittenWrites ($1 the library), also run as part of each scheduling pass's snapshot. */
export const SETTLE_WRITTEN_WRITES = `UPDATE requests r SET state = 'done', finished_at = now(), error_code = NULL, error_message = NULL,
       result = jsonb_build_object('bfid', f.bfid, 'volume', v.label, 'fileNo', f.file_no, 'size', f.size, 'crc', f.crc_adler32, 'drive', f.drive, 'recovered', true)
     FROM files f JOIN volumes v ON v.id = f.volume_id
     WHERE r.library = $1 AND r.state = 'queued' AND r.kind = 'write' AND f.bfid = r.bfid AND f.state = 'active'
     RETURNING r.id`;

/** Every request a previous run of the library manager left assigned (at start, no mover is connected yet). */
export async function requeueForLibrary(db: Queryable, library: string): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(`${REQUEUE} AND library = $1 RETURNING id`, [library, null, null]);
  return rows.map((r) => r.id);
}
