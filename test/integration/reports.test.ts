import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as reports from '../../reports/repo.ts';
import { isTapestryError } from '../../src/errors/index.ts';
import { catalogue, seedLibraries, type Catalogue } from '../helpers/catalogue.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';

/**
 * The reports' SQL against a real catalogue built through the clerks, as the
 * movers build it: three file families in two storage groups, a full volume,
 * a deleted file, a file still being written, mounts, a shelved volume, an
 * inhibit, and transfer records with failures.
 */
let pgt: TestPostgres;
let cat: Catalogue;
const HOUR = 3_600_000;
/** Labels the volume clerk chose, by role. */
const V = { rawFull: '', rawOpen: '', reco: '', mc: '' };
/** When the last file on rawFull and the one on rawOpen were created. */
let r4At = 0;
let r5At = 0;

async function writeFile(path: string, size: number, crc: number): Promise<{ bfid: string; label: string; fileNo: number }> {
  const w = await cat.files.createWritingFile({ path, size });
  const vol = await cat.volumes.nextWriteVolume({ library: w.library, storageGroup: w.storageGroup, fileFamily: w.fileFamily, wrapper: w.wrapper, size });
  const fileNo = vol.eodFileNo ?? 1;
  await cat.files.assignPosition(w.bfid, { volume: vol.label, fileNo, drive: 'drive-1', crc });
  await cat.volumes.recordWrite(vol.label, { eodFileNo: fileNo + 1, bytesWritten: size });
  await cat.files.activate(w.bfid, crc);
  await cat.clock.advance(HOUR);
  return { bfid: w.bfid, label: vol.label, fileNo };
}

async function transfer(t: { drive: string; volume: string; direction: 'read' | 'write'; bytes: number; ok: boolean; code?: string }): Promise<void> {
  // The library manager writes these rows itself (no repository to go through).
  await cat.pool.query(
    `INSERT INTO transfers (direction, volume_label, mover, drive, bytes, ok, error_code, started_at, finished_at)
     VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $7)`,
    [t.direction, t.volume, t.drive, t.bytes, t.ok, t.code ?? null, new Date(cat.clock.now())],
  );
  await cat.clock.advance(60_000);
}

before(async () => {
  pgt = await startTestPostgres();
  const pool = await pgt.pool();
  await seedLibraries(pool, { libraries: ['lib', 'other'] });
  await pool.query(`INSERT INTO drives (name, library, robot, element) VALUES ('drive-1', 'lib', 'robot', 1), ('drive-2', 'lib', 'robot', 2), ('drive-9', 'other', 'robot', 9)`);
  cat = catalogue(pool);
  for (const [dir, ff] of [['/exp/raw', 'raw'], ['/exp/reco', 'reco'], ['/exp/mc', 'mc']] as const) {
    await cat.namespace.mkdir(dir, { parents: true });
    await cat.namespace.tagSet(dir, 'file_family', ff);
  }
  await cat.namespace.tagSet('/exp/mc', 'storage_group', 'sim');
  await cat.namespace.tagSet('/exp', 'library', 'lib');
  await cat.namespace.mkdir('/exp/raw/sub');
  for (let i = 1; i <= 6; i++) {
    const label = `V0000${i}`;
    await cat.volumes.addVolume({ label, library: 'lib', mediaType: 'TEST' });
    await cat.volumes.setLocation(label, { kind: 'slot', ref: String(i) });
  }

  // raw: four files fill the first volume (1 MB), the fifth does not fit and opens a second.
  const r1 = await writeFile('/exp/raw/r1', 1000, 0x11);
  await writeFile('/exp/raw/r2', 2000, 0x22);
  await writeFile('/exp/raw/sub/r3', 3000, 0x33);
  r4At = cat.clock.now();
  await writeFile('/exp/raw/r4', 600_000, 0x44);
  r5At = cat.clock.now();
  const r5 = await writeFile('/exp/raw/r5', 600_000, 0x55);
  const c1 = await writeFile('/exp/reco/c1', 500, 0x66);
  await writeFile('/exp/reco/c2', 700, 0x77);
  await cat.namespace.removeFile('/exp/reco/c2');
  const m1 = await writeFile('/exp/mc/m1', 100, 0x88);
  await cat.files.createWritingFile({ path: '/exp/raw/pending', size: 10 });
  Object.assign(V, { rawFull: r1.label, rawOpen: r5.label, reco: c1.label, mc: m1.label });
  assert.equal(new Set(Object.values(V)).size, 4, `four distinct volumes: ${JSON.stringify(V)}`);

  // Mounts: rawFull twice on drive-1, reco once on drive-2 (still there); mc goes to the shelf.
  await cat.volumes.recordMount(V.rawFull, 'drive-1');
  await cat.clock.advance(HOUR);
  await cat.volumes.recordDismount(V.rawFull, 1);
  await cat.volumes.recordMount(V.reco, 'drive-2');
  await cat.clock.advance(HOUR);
  await cat.volumes.recordMount(V.rawFull, 'drive-1');
  await cat.volumes.recordDismount(V.rawFull, 1);
  await cat.volumes.setLocation(V.mc, { kind: 'shelf', ref: 'vault B' });
  await cat.volumes.setInhibit(V.rawOpen, { kind: 'user', field: 'state', value: 'readonly' }, 'alice', 'checking');

  await transfer({ drive: 'drive-1', volume: V.rawFull, direction: 'write', bytes: 1000, ok: true });
  await transfer({ drive: 'drive-1', volume: V.rawFull, direction: 'write', bytes: 2000, ok: true });
  await transfer({ drive: 'drive-1', volume: V.rawFull, direction: 'read', bytes: 1000, ok: true });
  await transfer({ drive: 'drive-1', volume: V.rawFull, direction: 'read', bytes: 300, ok: false, code: 'MEDIA_ERROR' });
  await transfer({ drive: 'drive-2', volume: V.reco, direction: 'write', bytes: 0, ok: false, code: 'DRIVE_ERROR' });
  await transfer({ drive: 'drive-2', volume: V.reco, direction: 'read', bytes: 500, ok: true });
});
after(async () => { await pgt.stop(); });

test('files on volumes: tape order, position, size, crc, state; oldest and youngest active file per volume', async () => {
  const r = await reports.filesOnVolumes(cat.pool, [V.reco, V.rawFull]);
  assert.deepEqual(r.files.map((f) => [f.volume, f.fileNo, f.path, f.size, f.crc, f.state]), [
    [V.reco, 1, '/exp/reco/c1', 500, 0x66, 'active'],
    [V.reco, 2, '/exp/reco/c2', 700, 0x77, 'deleted'],
    [V.rawFull, 1, '/exp/raw/r1', 1000, 0x11, 'active'],
    [V.rawFull, 2, '/exp/raw/r2', 2000, 0x22, 'active'],
    [V.rawFull, 3, '/exp/raw/sub/r3', 3000, 0x33, 'active'],
    [V.rawFull, 4, '/exp/raw/r4', 600_000, 0x44, 'active'],
  ]);
  const [reco, raw] = r.volumes;
  assert.deepEqual([reco!.volume, reco!.activeFiles, reco!.oldest?.path, reco!.youngest?.path], [V.reco, 1, '/exp/reco/c1', '/exp/reco/c1'], 'a deleted file is no one\'s youngest');
  assert.deepEqual([raw!.volume, raw!.volumeFamily, raw!.activeFiles, raw!.activeBytes, raw!.oldest?.path, raw!.youngest?.path], [V.rawFull, 'default.raw.cpio_odc', 4, 606_000, '/exp/raw/r1', '/exp/raw/r4']);
  assert.equal(Date.parse(raw!.youngest!.createdAt), r4At);

  const blank = await reports.filesOnVolumes(cat.pool, ['V00006']);
  assert.deepEqual([blank.files, blank.volumes[0]!.oldest, blank.volumes[0]!.youngest], [[], null, null]);
  await assert.rejects(reports.filesOnVolumes(cat.pool, [V.reco, 'NOPE01', 'NOPE02']), (err) => isTapestryError(err, 'NO_SUCH_VOLUME') && err.message === 'no volume NOPE01, NOPE02');
});

test('where: a file, a whole directory tree, and where each volume is (slot, drive, shelf)', async () => {
  const one = await reports.whereIs(cat.pool, '/exp/raw/r1', 100);
  assert.equal(one.kind, 'file');
  assert.deepEqual(one.files.map((f) => [f.volume, f.fileNo, f.location]), [[V.rawFull, 1, { kind: 'slot', ref: '1', inLibrary: true, where: 'slot 1' }]]);

  const tree = await reports.whereIs(cat.pool, '/exp/', 100);
  assert.equal(tree.kind, 'directory');
  assert.equal(tree.path, '/exp');
  assert.deepEqual(tree.files.map((f) => [f.path, f.volume, f.fileNo, f.location?.where ?? null, f.location?.inLibrary ?? null]), [
    ['/exp/mc/m1', V.mc, 1, 'shelf (vault B)', false],
    ['/exp/raw/pending', null, null, null, null],
    ['/exp/raw/r1', V.rawFull, 1, 'slot 1', true],
    ['/exp/raw/r2', V.rawFull, 2, 'slot 1', true],
    ['/exp/raw/r4', V.rawFull, 4, 'slot 1', true],
    ['/exp/raw/r5', V.rawOpen, 1, `slot ${V.rawOpen.at(-1)}`, true],
    ['/exp/raw/sub/r3', V.rawFull, 3, 'slot 1', true],
    ['/exp/reco/c1', V.reco, 1, 'drive drive-2', true],
  ]);
  assert.equal(tree.truncated, false);
  const sub = await reports.whereIs(cat.pool, '/exp/raw/sub', 100);
  assert.deepEqual(sub.files.map((f) => f.path), ['/exp/raw/sub/r3']);
  const cut = await reports.whereIs(cat.pool, '/exp', 2);
  assert.deepEqual([cut.files.length, cut.truncated], [2, true]);
  assert.equal((await reports.whereIs(cat.pool, '/', 100)).files.length, 8);

  await assert.rejects(reports.whereIs(cat.pool, '/exp/reco/c2', 100), (err) => isTapestryError(err, 'NO_SUCH_FILE') && /no file or directory \/exp\/reco\/c2/.test(err.message), 'deleted files are not anywhere');
  await assert.rejects(reports.whereIs(cat.pool, '/exp/nope/x', 100), (err) => isTapestryError(err, 'NO_SUCH_FILE'));
  await assert.rejects(reports.whereIs(cat.pool, 'exp/raw', 100), (err) => isTapestryError(err, 'USERERROR') && /must be absolute/.test(err.message));
});

test('family: volumes with last mount; --older-than lists those in the library whose files are all older', async () => {
  const raw = await reports.familyVolumes(cat.pool, { fileFamily: 'raw' }, {});
  assert.deepEqual(raw.volumes.map((v) => [v.label, v.activeFiles, v.mounts, v.lastMountAt === null]), [[V.rawOpen, 1, 0, true], [V.rawFull, 4, 2, false]], 'never mounted first');
  const lastMount = raw.volumes[1]!.lastMountAt!;
  const history = await cat.volumes.history(V.rawFull);
  assert.equal(lastMount, history.filter((h) => h.kind === 'location' && h.value === 'drive:drive-1').at(-1)!.at);
  assert.equal(raw.volumes[1]!.inhibits.systemState, 'full');

  const future = await reports.familyVolumes(cat.pool, { fileFamily: 'raw' }, { olderThan: new Date('2100-01-01') });
  assert.deepEqual(future.volumes.map((v) => v.label).sort(), [V.rawFull, V.rawOpen].sort(), 'a cutoff in the future: every volume of the family can leave');
  assert.equal(future.familyVolumes, 2);
  const between = await reports.familyVolumes(cat.pool, { fileFamily: 'raw' }, { olderThan: new Date(r5At) });
  assert.deepEqual(between.volumes.map((v) => v.label), [V.rawFull], 'r5 is not older than its own creation');
  const before = await reports.familyVolumes(cat.pool, { fileFamily: 'raw' }, { olderThan: new Date(r4At) });
  assert.deepEqual(before.volumes, []);

  const mc = await reports.familyVolumes(cat.pool, { storageGroup: 'sim', fileFamily: 'mc', wrapper: 'cpio_odc' }, { olderThan: new Date('2100-01-01') });
  assert.deepEqual([mc.family, mc.familyVolumes, mc.volumes.length], ['sim.mc.cpio_odc', 1, 0], 'a shelved volume has already left');
  assert.equal((await reports.familyVolumes(cat.pool, { fileFamily: 'mc' }, {})).volumes[0]!.location.where, 'shelf (vault B)');
  await assert.rejects(reports.familyVolumes(cat.pool, { fileFamily: 'nope' }, {}), (err) => isTapestryError(err, 'NOT_FOUND') && err.message === 'no volumes of file family nope');
  await assert.rejects(reports.familyVolumes(cat.pool, { fileFamily: 'raw' }, { library: 'other' }), (err) => isTapestryError(err, 'NOT_FOUND') && /in library other/.test(err.message));
});

test('volumes: least recently mounted first, in or out of the library; --inhibited', async () => {
  const all = await reports.volumesByLastMount(cat.pool, {});
  assert.deepEqual(all.volumes.map((v) => v.label), [...[V.rawOpen, V.mc, 'V00005', 'V00006'].sort(), V.reco, V.rawFull]);
  const mc = all.volumes.find((v) => v.label === V.mc)!;
  assert.deepEqual([mc.location.inLibrary, mc.location.where, mc.lastMountAt], [false, 'shelf (vault B)', null]);
  assert.equal(all.volumes.find((v) => v.label === V.reco)!.location.where, 'drive drive-2');

  const inhibited = await reports.volumesByLastMount(cat.pool, { inhibitedOnly: true });
  assert.deepEqual(inhibited.volumes.map((v) => [v.label, v.inhibits.systemState, v.inhibits.userState]), [[V.rawOpen, 'none', 'readonly'], [V.rawFull, 'full', 'none']]);
  assert.deepEqual((await reports.volumesByLastMount(cat.pool, { library: 'other' })).volumes, []);
});

test('usage: per storage group and family, with a total per storage group', async () => {
  const u = await reports.usage(cat.pool, {});
  assert.deepEqual(u.families.map((l) => [l.storageGroup, l.fileFamily, l.volumes, l.activeFiles, l.activeBytes, l.freeBytes]), [
    ['default', 'raw', 2, 5, 1_206_000, 2_000_000 - 1_206_000],
    ['default', 'reco', 1, 1, 500, 1_000_000 - 1200],
    ['none', 'none', 2, 0, 0, 2_000_000],
    ['sim', 'mc', 1, 1, 100, 1_000_000 - 100],
  ]);
  assert.deepEqual(u.storageGroups.map((l) => [l.storageGroup, l.fileFamily, l.volumes, l.activeFiles, l.activeBytes]), [
    ['default', null, 3, 6, 1_206_500],
    ['none', null, 2, 0, 0],
    ['sim', null, 1, 1, 100],
  ]);
  assert.deepEqual(await reports.usage(cat.pool, { library: 'other' }), { families: [], storageGroups: [] });
});

test('drives and volume stats: mounts from the volume history, bytes and errors from the transfers', async () => {
  const drives = await reports.driveStats(cat.pool, {});
  assert.deepEqual(drives.map((d) => [d.drive, d.library, d.mounts, d.writes, d.reads, d.bytesWritten, d.bytesRead, d.writeErrors, d.readErrors, d.lastError]), [
    ['drive-1', 'lib', 2, 2, 1, 3000, 1000, 0, 1, 'MEDIA_ERROR'],
    ['drive-2', 'lib', 1, 0, 1, 0, 500, 1, 0, 'DRIVE_ERROR'],
    ['drive-9', 'other', 0, 0, 0, 0, 0, 0, 0, null],
  ]);
  assert.deepEqual((await reports.driveStats(cat.pool, { library: 'other' })).map((d) => d.drive), ['drive-9']);

  const vols = new Map((await reports.volumeStats(cat.pool, {})).map((v) => [v.label, v]));
  assert.equal(vols.size, 6);
  const raw = vols.get(V.rawFull)!;
  assert.deepEqual([raw.mounts, raw.reads, raw.writes, raw.readErrors, raw.writeErrors, raw.lastError], [2, 1, 2, 1, 0, 'MEDIA_ERROR']);
  const reco = vols.get(V.reco)!;
  assert.deepEqual([reco.mounts, reco.reads, reco.writes, reco.readErrors, reco.writeErrors], [1, 1, 0, 0, 1]);
  assert.deepEqual([vols.get('V00006')!.mounts, vols.get('V00006')!.lastMountAt, vols.get('V00006')!.readErrors], [0, null, 0]);
});

test('a library named in a filter must exist', async () => {
  await reports.checkLibrary(cat.pool, 'lib');
  await reports.checkLibrary(cat.pool, undefined);
  await assert.rejects(reports.checkLibrary(cat.pool, 'lto8'), (err) => isTapestryError(err, 'NOT_FOUND') && err.message === 'no library "lto8"');
});
