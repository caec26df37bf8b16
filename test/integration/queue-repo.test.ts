import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { finishRequest, getRequest, insertRequest, markActive, markAssigned, openRequests, requeueForMover } from '../../library-manager/queue-repo.ts';
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
  assert.equal(await markAssigned(pool, row.id, 'drive-1', null), true);
  assert.equal(await markAssigned(pool, row.id, 'drive-2', null), false, 'a second mover cannot take the same request');
  assert.equal(await markActive(pool, row.id, 'drive-1'), true);
  assert.deepEqual(await requeueForMover(pool, 'drive-1', { code: 'DRIVE_ERROR', message: 'mover drive-1 died' }), [row.id]);
  let r = await getRequest(pool, row.id);
  assert.equal(r!.state, 'queued');
  assert.equal(r!.mover, null);
  assert.equal(r!.attempts, 1);
  assert.equal(await markAssigned(pool, row.id, 'drive-2', null), true);
  assert.equal(await finishRequest(pool, row.id, { ok: true, result: { bytes: 10 } }), true);
  assert.equal(await finishRequest(pool, row.id, { ok: false, code: 'X', message: 'late' }), false);
  r = await getRequest(pool, row.id);
  assert.equal(r!.state, 'done');
  assert.deepEqual(r!.result, { bytes: 10 });
  assert.equal(r!.attempts, 2);
});
