import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseBfid } from '../../file-clerk/bfid.ts';
import { allocateBfid } from '../../file-clerk/repo.ts';
import { createPool } from '../../src/db/index.ts';
import { isTapestryError } from '../../src/errors/index.ts';
import { catalogue, seedLibraries, type Catalogue } from '../helpers/catalogue.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';

let pgt: TestPostgres;
before(async () => { pgt = await startTestPostgres(); });
after(async () => { await pgt.stop(); });

/** A catalogue with /exp/raw tagged file_family raw, and volume V00001 assigned to sg default.raw.cpio_odc. */
async function fresh(): Promise<Catalogue> {
  const pool = await pgt.pool();
  await seedLibraries(pool);
  const cat = catalogue(pool);
  await cat.namespace.mkdir('/exp/raw', { parents: true });
  await cat.namespace.tagSet('/exp/raw', 'file_family', 'raw');
  await cat.volumes.addVolume({ label: 'V00001', library: 'lib', mediaType: 'TEST' });
  return cat;
}

async function volumeCounters(cat: Catalogue, label: string): Promise<Record<string, number>> {
  const v = await cat.volumes.getVolume(label);
  return { active: v.activeFiles, activeBytes: v.activeBytes, deleted: v.deletedFiles, deletedBytes: v.deletedBytes, unknown: v.unknownFiles, unknownBytes: v.unknownBytes };
}

/** The write path as a mover runs it: volume, position, bytes on tape, end-of-data, activation. */
async function writeFile(cat: Catalogue, path: string, size: number, crc: number): Promise<{ bfid: string; label: string; fileNo: number }> {
  const w = await cat.files.createWritingFile({ path, size });
  const vol = await cat.volumes.nextWriteVolume({ library: w.library, storageGroup: w.storageGroup, fileFamily: w.fileFamily, wrapper: w.wrapper, size });
  const fileNo = vol.eodFileNo ?? 1;
  await cat.files.assignPosition(w.bfid, { volume: vol.label, fileNo, drive: 'drive-1', crc });
  await cat.volumes.recordWrite(vol.label, { eodFileNo: fileNo + 1, bytesWritten: size });
  await cat.files.activate(w.bfid, crc);
  return { bfid: w.bfid, label: vol.label, fileNo };
}

test('bfids are unique under 1000 concurrent allocations from 3 pools', async () => {
  const url = await pgt.database();
  const pools = [createPool(url, undefined, 10), createPool(url, undefined, 10), createPool(url, undefined, 10)];
  try {
    const started = Date.now();
    const bfids = await Promise.all(Array.from({ length: 1000 }, (_, i) => allocateBfid(pools[i % 3]!, 'TAPE')));
    assert.equal(new Set(bfids).size, 1000);
    for (const b of bfids) assert.match(b, /^TAPE[0-9]{11,16}$/);
    // All made within a few seconds: the counter, not the clock, keeps them apart.
    const seconds = new Set(bfids.map((b) => parseBfid(b)!.seconds));
    assert.ok(seconds.size <= Math.ceil((Date.now() - started) / 1000) + 1, `${seconds.size} distinct seconds`);
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
});

test('a new file takes its directory tags; refusals name what is wrong', async () => {
  const cat = await fresh();
  const w = await cat.files.createWritingFile({ path: '/exp/raw/run1.dat', size: 1234, uid: 1000, gid: 100, owner: 'alice' });
  assert.match(w.bfid, /^TAPE\d{15}$/);
  assert.deepEqual({ ...w, bfid: 'x' }, { bfid: 'x', path: '/exp/raw/run1.dat', size: 1234, library: 'lib', storageGroup: 'default', fileFamily: 'raw', wrapper: 'cpio_odc', width: 1 });
  const info = await cat.files.fileInfo('/exp/raw/run1.dat');
  assert.equal(info.state, 'writing');
  assert.equal(info.owner, 'alice');
  assert.equal(info.uid, 1000);
  assert.deepEqual(await cat.files.fileInfo(w.bfid), info);

  await assert.rejects(cat.files.createWritingFile({ path: '/exp/raw/run1.dat', size: 1 }), (err) => isTapestryError(err, 'EXISTS') && /file \/exp\/raw\/run1.dat already exists \(bfid TAPE\d+, writing\)/.test(err.message));
  await assert.rejects(cat.files.createWritingFile({ path: '/exp/nope/f', size: 1 }), (err) => isTapestryError(err, 'NOT_FOUND') && /directory \/exp\/nope does not exist/.test(err.message));
  await assert.rejects(cat.files.createWritingFile({ path: '/exp/f', size: 1 }), (err) => isTapestryError(err, 'USERERROR') && /^directory \/exp has no file_family tag; set it with tapestry ns tag set/.test(err.message));
  await assert.rejects(cat.files.createWritingFile({ path: '/exp/raw', size: 1 }), (err) => isTapestryError(err, 'EXISTS') && /is a directory/.test(err.message));
  await assert.rejects(cat.files.createWritingFile({ path: '/exp/raw/run1.dat/x', size: 1 }), (err) => isTapestryError(err, 'USERERROR') && /is a file, not a directory/.test(err.message));
  await assert.rejects(cat.files.createWritingFile({ path: '/exp/raw/neg', size: -1 }), (err) => isTapestryError(err, 'USERERROR'));
  // A directory cannot take the name of a live file either.
  await assert.rejects(cat.namespace.mkdir('/exp/raw/run1.dat'), (err) => isTapestryError(err, 'EXISTS') && /is a file/.test(err.message));

  // encp's overrides, validated like tags.
  const o = await cat.files.createWritingFile({ path: '/exp/raw/run2.dat', size: 1, overrides: { fileFamily: 'calib', width: 3, storageGroup: 'cms' } });
  assert.deepEqual([o.storageGroup, o.fileFamily, o.width], ['cms', 'calib', 3]);
  await assert.rejects(cat.files.createWritingFile({ path: '/exp/raw/run3.dat', size: 1, overrides: { width: 0 } }), (err) => isTapestryError(err, 'USERERROR') && /file_family_width/.test(err.message));
  await assert.rejects(cat.files.createWritingFile({ path: '/exp/raw/run3.dat', size: 1, overrides: { fileFamily: 'a b' } }), (err) => isTapestryError(err, 'USERERROR'));
});

test('50 concurrent creations of one path: exactly one wins, the rest are EXISTS', async () => {
  const cat = await fresh();
  const results = await Promise.allSettled(Array.from({ length: 50 }, () => cat.files.createWritingFile({ path: '/exp/raw/race', size: 1 })));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') assert.ok(isTapestryError(r.reason, 'EXISTS'), String(r.reason));
});

test('lifecycle writing → active → deleted, with the volume counters following; ns rm keeps row and position', async () => {
  const cat = await fresh();
  const a = await writeFile(cat, '/exp/raw/a', 100, 11);
  const b = await writeFile(cat, '/exp/raw/b', 200, 22);
  assert.equal(a.label, 'V00001');
  assert.deepEqual([a.fileNo, b.fileNo], [1, 2]);
  assert.deepEqual(await volumeCounters(cat, 'V00001'), { active: 2, activeBytes: 300, deleted: 0, deletedBytes: 0, unknown: 0, unknownBytes: 0 });
  const vol = await cat.volumes.getVolume('V00001');
  assert.equal(vol.eodFileNo, 3);
  assert.equal(vol.remainingBytes, 1_000_000 - 300);
  assert.equal(vol.volumeFamily, 'default.raw.cpio_odc');

  const info = await cat.files.fileInfo('/exp/raw/b');
  assert.deepEqual([info.state, info.crc, info.volume, info.fileNo, info.locationCookie, info.drive], ['active', 22, 'V00001', 2, '0000_000000000_0000002', 'drive-1']);
  assert.equal((await cat.files.fileAt('V00001', 1)).bfid, a.bfid);

  // ns rm: deleted, position kept, counters moved, path free for a new file.
  const removed = await cat.namespace.removeFile('/exp/raw/a');
  assert.deepEqual(removed, { bfid: a.bfid, path: '/exp/raw/a', state: 'deleted', volume: 'V00001', fileNo: 1 });
  assert.deepEqual(await volumeCounters(cat, 'V00001'), { active: 1, activeBytes: 200, deleted: 1, deletedBytes: 100, unknown: 0, unknownBytes: 0 });
  const gone = await cat.files.fileInfo(a.bfid);
  assert.deepEqual([gone.state, gone.volume, gone.fileNo], ['deleted', 'V00001', 1]);
  assert.ok(gone.deletedAt);
  assert.deepEqual((await cat.namespace.list('/exp/raw')).entries.map((e) => e.name), ['b']);
  await assert.rejects(cat.namespace.removeFile('/exp/raw/a'), (err) => isTapestryError(err, 'NO_SUCH_FILE'));
  const again = await writeFile(cat, '/exp/raw/a', 50, 33);
  assert.equal(again.fileNo, 3);
  // By path: the live file; by bfid: the deleted one.
  assert.equal((await cat.files.fileInfo('/exp/raw/a')).bfid, again.bfid);
  assert.deepEqual((await cat.files.volumeFiles('V00001')).map((f) => [f.fileNo, f.path, f.state]), [[1, '/exp/raw/a', 'deleted'], [2, '/exp/raw/b', 'active'], [3, '/exp/raw/a', 'active']]);
  await assert.rejects(cat.files.volumeFiles('NOSUCH'), (err) => isTapestryError(err, 'NO_SUCH_VOLUME'));
  await assert.rejects(cat.files.fileInfo('CDMS176400000000001'), (err) => isTapestryError(err, 'USERERROR') && /brand/.test(err.message));
  await assert.rejects(cat.files.fileInfo('junk'), (err) => isTapestryError(err, 'USERERROR') && /neither an absolute namespace path nor a bfid/.test(err.message));
});

test('activation guards: position, end-of-data past the file, matching CRC (else CRC_MISMATCH and an alarm)', async () => {
  const cat = await fresh();
  const w = await cat.files.createWritingFile({ path: '/exp/raw/f', size: 10 });
  await assert.rejects(cat.files.activate(w.bfid, 5), (err) => isTapestryError(err, 'CONFLICT') && /no position on tape/.test(err.message));
  const vol = await cat.volumes.nextWriteVolume({ library: 'lib', storageGroup: 'default', fileFamily: 'raw', wrapper: 'cpio_odc', size: 10 });
  await cat.files.assignPosition(w.bfid, { volume: vol.label, fileNo: 1, crc: 5 });
  // Same claim again is a no-op; another position is not.
  await cat.files.assignPosition(w.bfid, { volume: vol.label, fileNo: 1 });
  await assert.rejects(cat.files.assignPosition(w.bfid, { volume: vol.label, fileNo: 2 }), (err) => isTapestryError(err, 'CONFLICT') && /already has position 1/.test(err.message));
  assert.deepEqual(await volumeCounters(cat, vol.label), { active: 0, activeBytes: 0, deleted: 0, deletedBytes: 0, unknown: 1, unknownBytes: 10 });
  await assert.rejects(cat.files.activate(w.bfid, 5), (err) => isTapestryError(err, 'CONFLICT') && /end-of-data of V00001 is unset, not past file 1/.test(err.message));
  await cat.volumes.recordWrite(vol.label, { eodFileNo: 2, bytesWritten: 10 });
  await assert.rejects(cat.files.activate(w.bfid, 6), (err) => isTapestryError(err, 'CRC_MISMATCH') && /recorded 5, presented 6/.test(err.message));
  assert.equal((await cat.files.fileInfo(w.bfid)).state, 'writing');
  const alarms = await cat.alarms.list();
  assert.deepEqual(alarms.map((a) => [a.code, a.key]), [['CRC_MISMATCH', `CRC_MISMATCH:${w.bfid}`]]);
  const active = await cat.files.activate(w.bfid, 5);
  assert.equal(active.state, 'active');
  assert.equal((await cat.files.activate(w.bfid, 5)).state, 'active', 'activating twice with the same CRC is a no-op');
  assert.deepEqual(await volumeCounters(cat, vol.label), { active: 1, activeBytes: 10, deleted: 0, deletedBytes: 0, unknown: 0, unknownBytes: 0 });
  await assert.rejects(cat.files.assignPosition(w.bfid, { volume: vol.label, fileNo: 3 }), (err) => isTapestryError(err, 'CONFLICT') && /is active/.test(err.message));
});

test('positions: family and library of the volume must match; never before end-of-data; one file per position', async () => {
  const cat = await fresh();
  await cat.volumes.addVolume({ label: 'V00002', library: 'lib', mediaType: 'TEST' });
  const a = await cat.files.createWritingFile({ path: '/exp/raw/a', size: 1 });
  const b = await cat.files.createWritingFile({ path: '/exp/raw/b', size: 1 });
  // V00002 is still blank (none.none.none): not this file's family.
  await assert.rejects(cat.files.assignPosition(a.bfid, { volume: 'V00002', fileNo: 1 }), (err) => isTapestryError(err, 'CONFLICT') && /cannot take file/.test(err.message));
  await assert.rejects(cat.files.assignPosition(a.bfid, { volume: 'NOPE01', fileNo: 1 }), (err) => isTapestryError(err, 'NO_SUCH_VOLUME'));
  const vol = await cat.volumes.nextWriteVolume({ library: 'lib', storageGroup: 'default', fileFamily: 'raw', wrapper: 'cpio_odc', size: 1 });
  await cat.files.assignPosition(a.bfid, { volume: vol.label, fileNo: 1 });
  await assert.rejects(cat.files.assignPosition(b.bfid, { volume: vol.label, fileNo: 1 }), (err) => isTapestryError(err, 'CONFLICT') && /taken by a file being written/.test(err.message));
  await cat.volumes.recordWrite(vol.label, { eodFileNo: 2, bytesWritten: 1 });
  await assert.rejects(cat.files.assignPosition(b.bfid, { volume: vol.label, fileNo: 1 }), (err) => isTapestryError(err, 'CONFLICT') && /before its end-of-data/.test(err.message));
});

test('abandoned writes: removed without a position; kept as unknown bytes with one, path free, overwritten by the next write', async () => {
  const cat = await fresh();
  const early = await cat.files.createWritingFile({ path: '/exp/raw/early', size: 10 });
  assert.deepEqual(await cat.files.abandonWriting(early.bfid), { bfid: early.bfid, outcome: 'removed' });
  await assert.rejects(cat.files.fileInfo(early.bfid), (err) => isTapestryError(err, 'NO_SUCH_FILE'));

  const late = await cat.files.createWritingFile({ path: '/exp/raw/late', size: 30 });
  const vol = await cat.volumes.nextWriteVolume({ library: 'lib', storageGroup: 'default', fileFamily: 'raw', wrapper: 'cpio_odc', size: 30 });
  await cat.files.assignPosition(late.bfid, { volume: vol.label, fileNo: 1 });
  await assert.rejects(cat.namespace.removeFile('/exp/raw/late'), (err) => isTapestryError(err, 'CONFLICT') && /still being written .* tapestry file abandon/.test(err.message));
  assert.deepEqual(await cat.files.abandonWriting(late.bfid), { bfid: late.bfid, outcome: 'abandoned' });
  assert.deepEqual(await cat.files.abandonWriting(late.bfid), { bfid: late.bfid, outcome: 'abandoned' }, 'idempotent');
  const kept = await cat.files.fileInfo(late.bfid);
  assert.deepEqual([kept.state, kept.abandoned, kept.volume, kept.fileNo], ['writing', true, vol.label, 1]);
  assert.deepEqual(await volumeCounters(cat, vol.label), { active: 0, activeBytes: 0, deleted: 0, deletedBytes: 0, unknown: 1, unknownBytes: 30 });
  await assert.rejects(cat.files.activate(late.bfid, 1), (err) => isTapestryError(err, 'CONFLICT') && /abandoned write/.test(err.message));
  // The path is free again and ls no longer shows the abandoned row.
  assert.deepEqual((await cat.namespace.list('/exp/raw')).entries, []);
  const retry = await writeFile(cat, '/exp/raw/late', 30, 7);
  // The retry went to end-of-data (still 1: the failed write never moved it) and overwrote the abandoned bytes.
  assert.deepEqual([retry.label, retry.fileNo], [vol.label, 1]);
  const released = await cat.files.fileInfo(late.bfid);
  assert.deepEqual([released.volume, released.fileNo, released.abandoned], [null, null, true]);
  assert.deepEqual(await volumeCounters(cat, vol.label), { active: 1, activeBytes: 30, deleted: 0, deletedBytes: 0, unknown: 0, unknownBytes: 0 });
  await assert.rejects(cat.files.abandonWriting(retry.bfid), (err) => isTapestryError(err, 'CONFLICT') && /use tapestry ns rm/.test(err.message));
});
