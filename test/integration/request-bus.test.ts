import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { Leadership } from '../../library-manager/leadership.ts';
import { finishRequest, insertRequest, assignRequest, publishAssignment, requeueUnclaimed, requeueUnclaimedOfMover, settleWrittenWrites, getRequest } from '../../library-manager/queue-repo.ts';
import { RequestEvents } from '../../library-manager/request-events.ts';
import { silentLogger } from '../../src/logging/index.ts';
import { catalogue, seedLibraries, type Catalogue } from '../helpers/catalogue.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';

/**
 * The database as the bus between the request API and the library manager
 * (docs/faults-process.md): assignments on the row and their NOTIFY, the
 * take-over re-queue rules, the no-second-write rule, and leadership by
 * advisory lock — on a real PostgreSQL.
 */
let pgt: TestPostgres;
let pool: pg.Pool;
let cat: Catalogue;

before(async () => {
  pgt = await startTestPostgres();
  pool = await pgt.pool();
  await seedLibraries(pool);
  cat = catalogue(pool);
  await cat.namespace.mkdir('/exp/raw', { parents: true });
  await cat.namespace.tagSet('/exp/raw', 'file_family', 'raw');
  await cat.volumes.addVolume({ label: 'V00001', library: 'lib', mediaType: 'TEST' });
});
after(async () => { await pgt.stop(); });

async function queuedWrite(path: string, size: number): Promise<{ id: number; bfid: string }> {
  const w = await cat.files.createWritingFile({ path, size });
  const { row } = await insertRequest(pool, {
    uniqueId: `u-${path}`, library: 'lib', kind: 'write', priority: 1, admin: false, key: 'default.raw.cpio_odc', size, bfid: w.bfid,
    storageGroup: w.storageGroup, fileFamily: w.fileFamily, wrapper: w.wrapper, width: 1,
  });
  return { id: row.id, bfid: w.bfid };
}

test('an assignment is published on the row, and every change wakes a long-poll of any process through NOTIFY', async () => {
  const events = new RequestEvents(pool, silentLogger(), 200);
  await events.start();
  try {
    const { id } = await queuedWrite('/exp/raw/n1', 10);
    const woken = events.next(id, 10_000);
    const t0 = Date.now();
    assert.equal((await assignRequest(pool, { id: id, mover: 'drive-1', drive: null, volume: 'V00001' })) !== null, true);
    await woken;
    assert.ok(Date.now() - t0 < 10_000, 'woken by the NOTIFY, not the timeout');
    // Published only once the mover has the Assign; the row then holds what encp needs.
    assert.equal(await publishAssignment(pool, id, 'drive-2', '127.0.0.1:1', 'tok'), false, 'not the mover the row names');
    const woken2 = events.next(id, 10_000);
    assert.equal(await publishAssignment(pool, id, 'drive-1', '127.0.0.1:9999', 'tok-1'), true);
    await woken2;
    const row = await getRequest(pool, id);
    assert.deepEqual([row!.state, row!.mover, row!.dataAddress, row!.token, row!.volumeLabel], ['assigned', 'drive-1', '127.0.0.1:9999', 'tok-1', 'V00001']);
    await finishRequest(pool, id, { ok: false, code: 'CANCELLED', message: 'test done with it' });
  } finally {
    await events.stop();
  }
});

test('take-over: a mover\'s Hello keeps what it claims, the rest goes back to the queue; after the grace, unclaimed ones too', async () => {
  const a = await queuedWrite('/exp/raw/t1', 10);
  const b = await queuedWrite('/exp/raw/t2', 10);
  const c = await queuedWrite('/exp/raw/t3', 10);
  for (const [r, m] of [[a, 'm1'], [b, 'm1'], [c, 'm2']] as const) {
    assert.equal((await assignRequest(pool, { id: r.id, mover: m, drive: null, volume: 'V00001' })) !== null, true);
    assert.equal(await publishAssignment(pool, r.id, m, '127.0.0.1:1', `t${r.id}`), true);
  }
  // Each assignment opened its transfers row.
  assert.equal((await pool.query('SELECT 1 FROM transfers WHERE request_id = ANY($1::bigint[]) AND finished_at IS NULL', [[a.id, b.id, c.id]])).rowCount, 3);
  // m1 says hello working on a: b was never started there.
  assert.deepEqual(await requeueUnclaimedOfMover(pool, 'm1', [a.id], { code: 'DRIVE_ERROR', message: 'reconnected without it' }), [b.id]);
  const rb = await getRequest(pool, b.id);
  assert.deepEqual([rb!.state, rb!.mover, rb!.token, rb!.dataAddress, rb!.volumeLabel], ['queued', null, null, null, null], 'a re-queued write forgets its mover, token and volume');
  // The grace period ends with m1 claiming a; m2 never came back.
  assert.deepEqual(await requeueUnclaimed(pool, 'lib', [a.id], { code: 'DRIVE_ERROR', message: 'no mover claimed it' }), [c.id]);
  assert.equal((await getRequest(pool, a.id))!.state, 'assigned');
  const { rows } = await pool.query<{ ok: boolean; error_code: string }>('SELECT ok, error_code FROM transfers WHERE request_id = $1', [c.id]);
  assert.deepEqual(rows, [{ ok: false, error_code: 'DRIVE_ERROR' }]);
});

test('a queued write whose file is already active is finished from the catalogue, never written again', async () => {
  const w = await queuedWrite('/exp/raw/s1', 100);
  const other = await queuedWrite('/exp/raw/s2', 100);
  // The mover registered the file (position, end-of-data, activation), then died before its WorkDone reached anyone.
  const vol = await cat.volumes.nextWriteVolume({ library: 'lib', storageGroup: 'default', fileFamily: 'raw', wrapper: 'cpio_odc', size: 100 });
  assert.equal(vol.label, 'V00001');
  await cat.files.assignPosition(w.bfid, { volume: 'V00001', fileNo: 1, drive: 'drive-1', crc: 42 });
  await cat.volumes.recordWrite('V00001', { eodFileNo: 2, bytesWritten: 100 });
  await cat.files.activate(w.bfid, 42);
  assert.deepEqual(await settleWrittenWrites(pool, 'lib'), [w.id]);
  const row = await getRequest(pool, w.id);
  assert.equal(row!.state, 'done');
  assert.deepEqual(row!.result, { bfid: w.bfid, volume: 'V00001', fileNo: 1, size: 100, crc: 42, drive: 'drive-1', recovered: true });
  assert.equal((await getRequest(pool, other.id))!.state, 'queued', 'a file still being written stays queued');
  assert.deepEqual(await settleWrittenWrites(pool, 'lib'), []);
});

test('leadership: one holder of the advisory lock; a cut lock session hands it to the standby', async () => {
  const log = silentLogger();
  const led: string[] = [];
  const lost: string[] = [];
  const make = (name: string): Leadership => new Leadership({
    pool, library: 'lib', log, retryMs: 100,
    onLead: async () => { led.push(name); },
    onLose: () => { lost.push(name); },
  });
  const one = make('one');
  const two = make('two');
  await one.start();
  await two.start();
  try {
    assert.deepEqual([one.leading, two.leading, led], [true, false, ['one']]);
    await pool.query(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND granted`, [0x7a9e_5702]);
    for (let i = 0; i < 100 && !(two.leading || led.length > 1); i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(lost, ['one'], 'the old leader stood down');
    assert.equal(led.length, 2, 'someone leads again');
    assert.equal([one, two].filter((l) => l.leading).length, 1, 'exactly one leads');
  } finally {
    await one.stop();
    await two.stop();
  }
});
