import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { assignRequest, finishRequest, finishSucceeded, getRequest, insertRequest, markActive, openRequests, requeueForMover } from '../../library-manager/queue-repo.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';

let pgt: TestPostgres;
let pool: pg.Pool;
before(async () => {
  pgt = await startTestPostgres();
  pool = await pgt.pool();
  await pool.query(`INSERT INTO libraries (name, robot, media_type) VALUES ('lto9', 'robot-1', 'LTO9')`);
});
after(async () => { await pgt.stop(); });

const read = (uniqueId: string, fileNo: number) => ({ uniqueId, library: 'lto9', kind: 'read' as const, priority: 1, admin: false, key: 'TS0001L9', size: 10, volumeLabel: 'TS0001L9', fileNo });

test('a duplicate unique_id leaves one queue entry, also under concurrency', async () => {
  const results = await Promise.all(Array.from({ length: 20 }, () => insertRequest(pool, read('dup-1', 3))));
  assert.equal(results.filter((r) => !r.duplicate).length, 1);
  assert.equal(new Set(results.map((r) => r.row.id)).size, 1);
  const open = await openRequests(pool, 'lto9');
  assert.equal(open.filter((r) => r.uniqueId === 'dup-1').length, 1);
});

test('assignment is taken once; a dead mover\'s requests go back to the queue; terminal states are final', async () => {
  const { row } = await insertRequest(pool, read('r-2', 5));
  assert.equal((await assignRequest(pool, { id: row.id, mover: 'drive-1', drive: null, volume: null })) !== null, true);
  assert.equal((await assignRequest(pool, { id: row.id, mover: 'drive-2', drive: null, volume: null })) !== null, false, 'a second mover cannot take the same request');
  assert.equal(await markActive(pool, row.id, 'drive-1'), true);
  assert.deepEqual(await requeueForMover(pool, 'drive-1', { code: 'DRIVE_ERROR', message: 'mover drive-1 died' }), [row.id]);
  let r = await getRequest(pool, row.id);
  assert.equal(r!.state, 'queued');
  assert.equal(r!.mover, null);
  assert.equal(r!.attempts, 1);
  assert.equal((await assignRequest(pool, { id: row.id, mover: 'drive-2', drive: null, volume: null })) !== null, true);
  assert.equal(await finishRequest(pool, row.id, { ok: true, result: { bytes: 10 } }), true);
  assert.equal(await finishRequest(pool, row.id, { ok: false, code: 'X', message: 'late' }), false);
  r = await getRequest(pool, row.id);
  assert.equal(r!.state, 'done');
  assert.deepEqual(r!.result, { bytes: 10 });
  assert.equal(r!.attempts, 2);
});

test('an assignment opens its transfers row in the same statement; a success closes request, transfer and the mover\'s failure run only while the mover holds it', async () => {
  await pool.query(`INSERT INTO drives (name, library, robot, element) VALUES ('drive-7', 'lto9', 'robot-1', 7)`);
  await pool.query(`INSERT INTO movers (name, library, drive, consecutive_failures) VALUES ('drive-7', 'lto9', 'drive-7', 2)`);
  const { row } = await insertRequest(pool, read('s-1', 4));
  const assigned = await assignRequest(pool, { id: row.id, mover: 'drive-7', drive: 'drive-7', volume: 'TS0001L9' });
  assert.ok(assigned);
  assert.equal(assigned.file, null, 'no file row for this bfid-less read');
  const { rows: [t] } = await pool.query<{ id: number; direction: string; file_no: number; volume_label: string; drive: string }>('SELECT id, direction, file_no, volume_label, drive FROM transfers WHERE request_id = $1', [row.id]);
  assert.deepEqual({ ...t }, { id: assigned.transferId, direction: 'read', file_no: 4, volume_label: 'TS0001L9', drive: 'drive-7' });

  const done = { id: row.id, transferId: null, result: { size: 10 }, bytes: 10, crc: 99, fileNo: 4, bfid: null };
  assert.equal(await finishSucceeded(pool, { ...done, mover: 'drive-8' }), false, 'another mover cannot finish it');
  assert.equal((await getRequest(pool, row.id))!.state, 'assigned', 'and nothing changed');
  assert.equal(await finishSucceeded(pool, { ...done, mover: 'drive-7' }), true);
  const r = await getRequest(pool, row.id);
  assert.deepEqual([r!.state, r!.result], ['done', { size: 10 }]);
  const { rows: [closed] } = await pool.query<{ ok: boolean; bytes: number; crc_adler32: number }>('SELECT ok, bytes, crc_adler32 FROM transfers WHERE id = $1', [assigned.transferId]);
  assert.deepEqual({ ...closed }, { ok: true, bytes: 10, crc_adler32: 99 });
  const { rows: [m] } = await pool.query<{ consecutive_failures: number }>(`SELECT consecutive_failures FROM movers WHERE name = 'drive-7'`);
  assert.equal(m!.consecutive_failures, 0);
  assert.equal(await finishSucceeded(pool, { ...done, mover: 'drive-7' }), false, 'a repeat finds it finished');
});
