import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPool } from '../../src/db/index.ts';
import { isTapestryError } from '../../src/errors/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { catalogue, seedLibraries, type Catalogue } from '../helpers/catalogue.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';

let pgt: TestPostgres;
before(async () => { pgt = await startTestPostgres(); });
after(async () => { await pgt.stop(); });

const CAP = 1_000_000;
const raw = { library: 'lib', storageGroup: 'sg', fileFamily: 'raw', wrapper: 'cpio_odc' };

async function fresh(): Promise<Catalogue> {
  const pool = await pgt.pool();
  await seedLibraries(pool, { capacity: CAP });
  return catalogue(pool);
}

/** Declare volumes one virtual second apart, in the order given (oldest first). */
async function declare(cat: Catalogue, labels: readonly string[], storageGroup?: string): Promise<void> {
  for (const label of labels) {
    await cat.volumes.addVolume({ label, library: 'lib', mediaType: 'TEST', storageGroup });
    await cat.clock.advance(1000);
  }
}

async function history(cat: Catalogue, label: string): Promise<string[]> {
  return (await cat.volumes.history(label)).map((h) => `${h.kind}=${h.value}`);
}

test('addVolume: label, library and media type are checked; a duplicate is EXISTS; declareCartridges is idempotent', async () => {
  const cat = await fresh();
  const v = await cat.volumes.addVolume({ label: 'TS0001L9', library: 'lib', mediaType: 'TEST', storageGroup: 'cms', comment: 'new' });
  assert.deepEqual([v.volumeFamily, v.capacityBytes, v.remainingBytes, v.eodFileNo, v.comment, v.location.kind], ['cms.none.none', CAP, CAP, null, 'new', 'unknown']);
  const cases: [Parameters<Catalogue['volumes']['addVolume']>[0], string, RegExp][] = [
    [{ label: 'TS0001L9', library: 'lib', mediaType: 'TEST' }, 'EXISTS', /volume TS0001L9 already exists/],
    [{ label: 'ts0002l9', library: 'lib', mediaType: 'TEST' }, 'USERERROR', /illegal volume label/],
    [{ label: 'TS02', library: 'lib', mediaType: 'TEST' }, 'USERERROR', /illegal volume label/],
    [{ label: 'TS0002L9', library: 'nolib', mediaType: 'TEST' }, 'USERERROR', /unknown library "nolib"/],
    [{ label: 'TS0002L9', library: 'lib', mediaType: 'LTO1' }, 'USERERROR', /unknown media type "LTO1"/],
    [{ label: 'TS0002L9', library: 'lib', mediaType: 'OTHER' }, 'USERERROR', /library lib takes TEST cartridges, not OTHER/],
    [{ label: 'TS0002L9', library: 'lib', mediaType: 'TEST', storageGroup: 'none' }, 'USERERROR', /storage_group/],
  ];
  for (const [input, code, why] of cases) {
    await assert.rejects(cat.volumes.addVolume(input), (err) => isTapestryError(err) && err.code === code && why.test(err.message), JSON.stringify(input));
  }

  // The example config's 20 simulated cartridges, declared into a database that has its library.
  const config = loadConfig(new URL('../../tapestry.yaml', import.meta.url).pathname);
  const pool = await pgt.pool();
  await pool.query(`INSERT INTO media_types (name, capacity_bytes, block_size) VALUES ('LTO9', 18000000000000, 262144)`);
  await pool.query(`INSERT INTO libraries (name, robot, media_type) VALUES ('lto9', 'robot-1', 'LTO9')`);
  const c2 = catalogue(pool);
  const first = await c2.volumes.declareCartridges(config);
  assert.equal(first.declared.length, 20);
  assert.deepEqual(await c2.volumes.declareCartridges(config), { declared: [], known: 20 });
  const vols = await c2.volumes.listVolumes({ library: 'lto9' });
  assert.deepEqual(vols.map((x) => x.label), Array.from({ length: 20 }, (_, i) => `TS${String(i + 1).padStart(4, '0')}L9`));
  assert.ok(vols.every((x) => x.volumeFamily === 'none.none.none' && x.remainingBytes === 18e12 && x.eodFileNo === null));
  assert.deepEqual(vols[2]!.location, { kind: 'slot', ref: '3' });
  assert.deepEqual(await history(c2, 'TS0001L9'), ['declared=none.none.none']);
});

test('next write volume: exact family → family pool → storage-group blanks → common blanks, oldest first; vetoed never returned', async () => {
  const cat = await fresh();
  await declare(cat, ['COMM01', 'COMM02']);
  await declare(cat, ['SGRP01'], 'sg');
  await declare(cat, ['OTHR01'], 'other');
  // Nothing in the family yet: the storage group's blank pool comes before the (older) common pool.
  const first = await cat.volumes.nextWriteVolume({ ...raw, size: 10 });
  assert.equal(first.label, 'SGRP01');
  assert.equal(first.volumeFamily, 'sg.raw.cpio_odc');
  assert.deepEqual(await history(cat, 'SGRP01'), ['declared=sg.none.none', 'family=sg.raw.cpio_odc']);
  // Now the family has a volume: it is chosen again.
  assert.equal((await cat.volumes.nextWriteVolume({ ...raw, size: 10 })).label, 'SGRP01');
  // Vetoed: the next pool, the common one, oldest first.
  assert.equal((await cat.volumes.nextWriteVolume({ ...raw, size: 10, veto: ['SGRP01'] })).label, 'COMM01');
  assert.equal((await cat.volumes.nextWriteVolume({ ...raw, size: 10, veto: ['SGRP01', 'COMM01'] })).label, 'COMM02');
  // A family-pool volume (sg.raw.none) comes before blanks.
  const pool = cat.pool;
  await declare(cat, ['FAMP01']);
  await pool.query(`UPDATE volumes SET storage_group = 'sg', file_family = 'raw', wrapper = 'none' WHERE label = 'FAMP01'`);
  assert.equal((await cat.volumes.nextWriteVolume({ ...raw, size: 10, veto: ['SGRP01', 'COMM01', 'COMM02'] })).label, 'FAMP01');
  // Another storage group's blanks are never taken; all vetoed: NOVOLUME.
  await assert.rejects(
    cat.volumes.nextWriteVolume({ ...raw, size: 10, veto: ['SGRP01', 'COMM01', 'COMM02', 'FAMP01'] }),
    (err) => isTapestryError(err, 'NOVOLUME') && err.message === 'no new volumes available [lib, sg.raw.cpio_odc]',
  );
  assert.equal((await cat.volumes.getVolume('OTHR01')).volumeFamily, 'other.none.none');
});

test('readonly, full, NOTALLOWED, NOACCESS, write-protected and shelved volumes are never chosen for writes', async () => {
  const cat = await fresh();
  const labels = ['RDONLY', 'FULL01', 'NOTALW', 'NOACCS', 'UREADO', 'MIGRTD', 'WPROT1', 'SHELF1', 'GOOD01'];
  await declare(cat, labels);
  await cat.volumes.setInhibit('RDONLY', { kind: 'system', field: 'state', value: 'readonly' }, 'test');
  await cat.volumes.setInhibit('FULL01', { kind: 'system', field: 'state', value: 'full' }, 'test');
  await cat.volumes.setInhibit('NOTALW', { kind: 'system', field: 'access', value: 'NOTALLOWED' }, 'test');
  await cat.volumes.setInhibit('NOACCS', { kind: 'user', field: 'access', value: 'NOACCESS' }, 'test');
  await cat.volumes.setInhibit('UREADO', { kind: 'user', field: 'state', value: 'readonly' }, 'test');
  await cat.volumes.setInhibit('MIGRTD', { kind: 'user', field: 'state', value: 'migrated' }, 'test');
  await cat.pool.query(`UPDATE volumes SET write_protected = 'y' WHERE label = 'WPROT1'`);
  await cat.volumes.setLocation('SHELF1', { kind: 'shelf', ref: 'rack-3' });
  assert.equal((await cat.volumes.nextWriteVolume({ ...raw, size: 10 })).label, 'GOOD01');
  await assert.rejects(cat.volumes.nextWriteVolume({ ...raw, fileFamily: 'other', size: 10 }), (err) => isTapestryError(err, 'NOVOLUME'));
  // checkAvailable gives the reason.
  const refusals: [string, string, RegExp][] = [
    ['RDONLY', 'READONLY', /Volume RDONLY is readonly/],
    ['FULL01', 'NOSPACE', /Volume FULL01 is full/],
    ['NOTALW', 'NOTALLOWED', /Volume NOTALW is marked NOTALLOWED/],
    ['NOACCS', 'NOACCESS', /Volume NOACCS is marked NOACCESS/],
    ['MIGRTD', 'READONLY', /is migrated/],
    ['WPROT1', 'WRITE_PROTECTED', /write-protected/],
    ['SHELF1', 'SHELVED', /on the shelf/],
  ];
  for (const [label, code, why] of refusals) {
    await assert.rejects(cat.volumes.checkAvailable(label, 'write', { size: 1 }), (err) => isTapestryError(err) && err.code === code && why.test(err.message), label);
  }
  // Reads: fine on full, readonly, migrated, write-protected; NOACCESS and NOTALLOWED refused before queueing.
  for (const label of ['RDONLY', 'FULL01', 'UREADO', 'MIGRTD', 'WPROT1', 'GOOD01']) {
    assert.equal((await cat.volumes.checkAvailable(label, 'read')).label, label);
  }
  await assert.rejects(cat.volumes.checkAvailable('NOACCS', 'read'), (err) => isTapestryError(err, 'NOACCESS') && err.message === 'Volume NOACCS is marked NOACCESS by an operator.' && !err.retryable);
  await cat.volumes.setInhibit('GOOD01', { kind: 'system', field: 'access', value: 'NOACCESS' }, 'library-manager', 'three movers failed');
  await assert.rejects(cat.volumes.checkAvailable('GOOD01', 'read'), (err) => isTapestryError(err, 'NOACCESS') && err.message === 'Volume GOOD01 is marked NOACCESS.');
  await assert.rejects(cat.volumes.checkAvailable('NOTALW', 'read'), (err) => isTapestryError(err, 'NOTALLOWED'));
  await assert.rejects(cat.volumes.checkAvailable('SHELF1', 'read'), (err) => isTapestryError(err, 'SHELVED'));
  await assert.rejects(cat.volumes.checkAvailable('NOPE01', 'read'), (err) => isTapestryError(err, 'NO_SUCH_VOLUME'));
  // Every inhibit change has a history row; clearing writes one per field changed.
  await cat.volumes.clearInhibit('GOOD01', 'system', undefined, 'operator', 'drive fixed');
  assert.deepEqual((await cat.volumes.history('GOOD01')).map((h) => [h.kind, h.value, h.actor, h.reason]), [
    ['declared', 'none.none.none', 'operator', null],
    ['family', 'sg.raw.cpio_odc', 'volume-clerk', 'taken from the common pool'],
    ['system_inhibit_access', 'NOACCESS', 'library-manager', 'three movers failed'],
    ['system_inhibit_access', 'none', 'operator', 'drive fixed'],
  ]);
  // Setting an inhibit to its current value changes nothing and writes no history.
  await cat.volumes.setInhibit('RDONLY', { kind: 'system', field: 'state', value: 'readonly' }, 'test');
  assert.equal((await history(cat, 'RDONLY')).length, 2);
  await assert.rejects(cat.volumes.setInhibit('RDONLY', { kind: 'user', field: 'access', value: 'DELETED' }, 'test'), (err) => isTapestryError(err, 'USERERROR'));
});

test('too-small written volumes are flipped to full with history; NOVOLUME raises one deduplicated alarm; oversized files are USERERROR', async () => {
  const cat = await fresh();
  await declare(cat, ['FAM001', 'FAM002', 'BLANK1']);
  // Two family volumes with 50 % and 2 % left.
  for (const [label, used] of [['FAM001', CAP / 2], ['FAM002', CAP * 0.98]] as const) {
    await cat.pool.query(`UPDATE volumes SET storage_group = 'sg', file_family = 'raw', wrapper = 'cpio_odc' WHERE label = $1`, [label]);
    await cat.volumes.recordWrite(label, { eodFileNo: 2, bytesWritten: used });
  }
  // 100 kB fits FAM001 (oldest) without flipping anything.
  assert.equal((await cat.volumes.nextWriteVolume({ ...raw, size: 100_000 })).label, 'FAM001');
  // 600 kB: FAM001 (500 kB left) and FAM002 flipped full, the blank gets the family.
  const big = await cat.volumes.nextWriteVolume({ ...raw, size: 600_000 });
  assert.equal(big.label, 'BLANK1');
  for (const label of ['FAM001', 'FAM002']) {
    const v = await cat.volumes.getVolume(label);
    assert.equal(v.systemInhibit.state, 'full', label);
    const h = (await cat.volumes.history(label)).at(-1)!;
    assert.deepEqual([h.kind, h.value, h.actor], ['system_inhibit_state', 'full', 'volume-clerk']);
    assert.match(h.reason!, /no room for 600000 bytes \+ 5%/);
  }
  await cat.volumes.recordWrite('BLANK1', { eodFileNo: 2, bytesWritten: 600_000 });
  // Nothing with room for 900 kB + 5 % (BLANK1, now written, is flipped); NOVOLUME twice → one alarm, count 2.
  for (let i = 0; i < 2; i++) {
    await assert.rejects(cat.volumes.nextWriteVolume({ ...raw, size: 900_000 }), (err) => isTapestryError(err, 'NOVOLUME') && /no new volumes available \[lib, sg\.raw\.cpio_odc\]/.test(err.message));
  }
  const alarms = await cat.alarms.list();
  assert.equal(alarms.length, 1);
  assert.deepEqual([alarms[0]!.key, alarms[0]!.code, alarms[0]!.count, alarms[0]!.severity], ['NOVOLUME:lib:sg.raw.cpio_odc', 'NOVOLUME', 2, 'error']);
  // The flips happened even though the request failed.
  assert.equal((await cat.volumes.getVolume('BLANK1')).systemInhibit.state, 'full');
  // Larger than an empty volume (with its 5 %): refused at once, nothing flipped.
  await cat.volumes.addVolume({ label: 'BLANK2', library: 'lib', mediaType: 'TEST' });
  await assert.rejects(cat.volumes.nextWriteVolume({ ...raw, size: CAP }), (err) => isTapestryError(err, 'USERERROR') && /does not fit on an empty TEST volume/.test(err.message));
  assert.equal((await cat.volumes.getVolume('BLANK2')).systemInhibit.state, 'none');
  // checkAvailable for a write too large flips a written volume, not a blank one.
  await assert.rejects(cat.volumes.checkAvailable('BLANK2', 'write', { size: 999_000 }), (err) => isTapestryError(err, 'NOSPACE'));
  assert.equal((await cat.volumes.getVolume('BLANK2')).systemInhibit.state, 'none');
});

test('a storage group over its quota cannot take common blanks: STORAGE_QUOTA_EXCEEDED and an alarm', async () => {
  const cat = await fresh();
  await declare(cat, ['COMM01']);
  await cat.pool.query(`INSERT INTO quotas (library, storage_group, quota) VALUES ('lib', 'sg', 0)`);
  await assert.rejects(cat.volumes.nextWriteVolume({ ...raw, size: 1 }), (err) => isTapestryError(err, 'STORAGE_QUOTA_EXCEEDED') && !err.retryable);
  assert.equal((await cat.alarms.list())[0]!.code, 'STORAGE_QUOTA_EXCEEDED');
  await cat.pool.query(`UPDATE quotas SET quota = 1`);
  assert.equal((await cat.volumes.nextWriteVolume({ ...raw, size: 1 })).label, 'COMM01');
});

test('concurrent nextWriteVolume for many families from several pools never gives one blank volume to two families', async () => {
  const cat = await fresh();
  const labels = Array.from({ length: 12 }, (_, i) => `BLK${String(i).padStart(3, '0')}`);
  for (const label of labels) await cat.volumes.addVolume({ label, library: 'lib', mediaType: 'TEST' });
  const pools = await Promise.all([0, 1, 2].map(async () => createPool(cat.pool.options.connectionString!)));
  try {
    const clerks = pools.map((p) => catalogue(p).volumes);
    const families = Array.from({ length: 8 }, (_, i) => `fam${i}`);
    // Each family asks 3 times, from 3 pools, all at once.
    const calls = families.flatMap((ff) => [0, 1, 2].map((k) => clerks[k]!.nextWriteVolume({ ...raw, fileFamily: ff, size: 10 }).then((v) => [ff, v.label, v.volumeFamily] as const)));
    const results = await Promise.all(calls);
    const byFamily = new Map<string, Set<string>>();
    const byLabel = new Map<string, Set<string>>();
    for (const [ff, label, vf] of results) {
      assert.equal(vf, `sg.${ff}.cpio_odc`);
      byFamily.set(ff, (byFamily.get(ff) ?? new Set()).add(label));
      byLabel.set(label, (byLabel.get(label) ?? new Set()).add(ff));
    }
    for (const [label, fams] of byLabel) assert.equal(fams.size, 1, `${label} given to ${[...fams].join(', ')}`);
    for (const [ff, vols] of byFamily) assert.equal(vols.size, 1, `${ff} got ${[...vols].join(', ')}`);
    const { rows } = await pools[0]!.query<{ n: number }>(`SELECT count(*)::int AS n FROM volume_history WHERE kind = 'family'`);
    assert.equal(rows[0]!.n, 8);
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
});

test('recordWrite never moves end-of-data or remaining bytes backwards', async () => {
  const cat = await fresh();
  await declare(cat, ['VOL001']);
  const v1 = await cat.volumes.recordWrite('VOL001', { eodFileNo: 2, bytesWritten: 1000 });
  assert.deepEqual([v1.eodFileNo, v1.remainingBytes, v1.writeAccesses], [2, CAP - 1000, 1]);
  const v2 = await cat.volumes.recordWrite('VOL001', { eodFileNo: 4, bytesWritten: 500 });
  assert.deepEqual([v2.eodFileNo, v2.remainingBytes], [4, CAP - 1500]);
  for (const eod of [4, 3, 1]) {
    await assert.rejects(cat.volumes.recordWrite('VOL001', { eodFileNo: eod, bytesWritten: 10 }), (err) => isTapestryError(err, 'CONFLICT') && new RegExp(`end-of-data of VOL001 is already 4; refusing to set it to ${eod}`).test(err.message));
  }
  await assert.rejects(cat.volumes.recordWrite('VOL001', { eodFileNo: 9, bytesWritten: -5 }), (err) => isTapestryError(err, 'USERERROR'));
  const after = await cat.volumes.getVolume('VOL001');
  assert.deepEqual([after.eodFileNo, after.remainingBytes], [4, CAP - 1500]);
  // Two racing writers with the same new end-of-data: one wins.
  const race = await Promise.allSettled([5, 5, 5].map((eod) => cat.volumes.recordWrite('VOL001', { eodFileNo: eod, bytesWritten: 100 })));
  assert.equal(race.filter((r) => r.status === 'fulfilled').length, 1);
  assert.equal((await cat.volumes.getVolume('VOL001')).remainingBytes, CAP - 1600);
  await assert.rejects(cat.volumes.recordWrite('NOPE01', { eodFileNo: 2, bytesWritten: 0 }), (err) => isTapestryError(err, 'NO_SUCH_VOLUME'));
});

test('mounts, dismounts and locations are recorded with history; listVolumes filters', async () => {
  const cat = await fresh();
  await declare(cat, ['VOL001', 'VOL002']);
  const m = await cat.volumes.recordMount('VOL001', 'drive-1');
  assert.deepEqual([m.mounts, m.location, m.lastAccessAt !== null], [1, { kind: 'drive', ref: 'drive-1' }, true]);
  const d = await cat.volumes.recordDismount('VOL001', 7);
  assert.deepEqual(d.location, { kind: 'slot', ref: '7' });
  assert.deepEqual((await history(cat, 'VOL001')).slice(1), ['location=drive:drive-1', 'location=slot:7']);
  assert.equal((await cat.volumes.recordRead('VOL001')).readAccesses, 1);
  assert.equal((await cat.volumes.recordError('VOL001', 'write')).writeErrors, 1);
  assert.equal((await cat.volumes.setComment('VOL001', 'cleaned')).comment, 'cleaned');
  await cat.volumes.nextWriteVolume({ ...raw, size: 1 });
  assert.deepEqual((await cat.volumes.listVolumes({ family: 'raw' })).map((v) => v.label), ['VOL001']);
  assert.deepEqual((await cat.volumes.listVolumes({ family: 'sg.raw.cpio_odc' })).map((v) => v.label), ['VOL001']);
  assert.deepEqual((await cat.volumes.listVolumes({ family: 'none' })).map((v) => v.label), ['VOL002']);
  assert.deepEqual((await cat.volumes.listVolumes({ storageGroup: 'sg', library: 'lib' })).map((v) => v.label), ['VOL001']);
  assert.deepEqual(await cat.volumes.listVolumes({ library: 'other' }), []);
});
