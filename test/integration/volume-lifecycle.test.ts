import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isTapestryError, type ErrorCode } from '../../src/errors/index.ts';
import { silentLogger } from '../../src/logging/index.ts';
import { VolumeLifecycle } from '../../volume-clerk/lifecycle-service.ts';
import { QuotaService } from '../../volume-clerk/quota-service.ts';
import { catalogue, seedLibraries, type Catalogue } from '../helpers/catalogue.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';

/**
 * The operator's volume lifecycle against real PostgreSQL (reference/enstore.md
 * §6 and acceptance scenario 24): delete → LABEL.deleted → restore, recycle,
 * erase with its history kept, storage groups, write protection, inhibits kept
 * apart, NOVOLUME naming the inhibit, quotas.
 */
let pgt: TestPostgres;
before(async () => { pgt = await startTestPostgres(); });
after(async () => { await pgt.stop(); });

const CAP = 1_000_000;
const op = { actor: 'alice' };

interface Rig extends Catalogue {
  readonly life: VolumeLifecycle;
  readonly quotas: QuotaService;
}

/** /exp/raw tagged file_family raw (storage group default), a drive for mount rows. */
async function fresh(): Promise<Rig> {
  const pool = await pgt.pool();
  await seedLibraries(pool, { capacity: CAP });
  await pool.query(`INSERT INTO drives (name, library, robot, element) VALUES ('drive-1', 'lib', 'robot', 1)`);
  const cat = catalogue(pool);
  await cat.namespace.mkdir('/exp/raw', { parents: true });
  await cat.namespace.tagSet('/exp/raw', 'file_family', 'raw');
  const log = silentLogger();
  return { ...cat, life: new VolumeLifecycle({ pool, clock: cat.clock, log }), quotas: new QuotaService({ db: pool, clock: cat.clock, log, alarms: cat.alarms }) };
}

/** The write path as a mover runs it (volume, position, end-of-data, activation). */
async function writeFile(rig: Rig, path: string, size: number): Promise<{ bfid: string; label: string; fileNo: number }> {
  const w = await rig.files.createWritingFile({ path, size });
  const vol = await rig.volumes.nextWriteVolume({ library: w.library, storageGroup: w.storageGroup, fileFamily: w.fileFamily, wrapper: w.wrapper, size });
  const fileNo = vol.eodFileNo ?? 1;
  await rig.files.assignPosition(w.bfid, { volume: vol.label, fileNo, drive: 'drive-1', crc: 7 });
  await rig.volumes.recordWrite(vol.label, { eodFileNo: fileNo + 1, bytesWritten: size });
  await rig.files.activate(w.bfid, 7);
  return { bfid: w.bfid, label: vol.label, fileNo };
}

const rejects = (p: Promise<unknown>, code: ErrorCode, why: RegExp): Promise<void> =>
  assert.rejects(p, (err) => isTapestryError(err, code) && why.test(err.message) || assert.fail(`expected ${code} ${why}, got ${String(err)}`));

async function kinds(rig: Rig, label: string): Promise<string[]> {
  return (await rig.volumes.history(label)).map((h) => `${h.kind}:${h.oldValue ?? ''}->${h.value ?? ''}`);
}

test('delete: refused while files are active, being written or the tape is mounted; then LABEL.deleted, restore, erase keeps the history', async () => {
  const rig = await fresh();
  await rig.volumes.addVolume({ label: 'TS0001L9', library: 'lib', mediaType: 'TEST' });
  const a = await writeFile(rig, '/exp/raw/a', 100);
  await writeFile(rig, '/exp/raw/b', 200);
  assert.equal(a.label, 'TS0001L9');
  await rejects(rig.life.deleteVolume('TS0001L9', op), 'CONFLICT', /cannot delete TS0001L9: 2 active files on it; delete them first \(`tapestry ns rm`/);
  await rig.namespace.removeFile('/exp/raw/a');
  await rig.namespace.removeFile('/exp/raw/b');
  // A file being written to it: still refused.
  const w = await rig.files.createWritingFile({ path: '/exp/raw/c', size: 10 });
  await rig.files.assignPosition(w.bfid, { volume: 'TS0001L9', fileNo: 3, drive: 'drive-1' });
  await rejects(rig.life.deleteVolume('TS0001L9', op), 'CONFLICT', /1 file being written to it/);
  await rig.files.abandonWriting(w.bfid);
  await rig.volumes.recordMount('TS0001L9', 'drive-1');
  await rejects(rig.life.deleteVolume('TS0001L9', op), 'CONFLICT', /it is in drive drive-1; wait until it is dismounted/);
  await rig.volumes.recordDismount('TS0001L9', 1);

  const del = await rig.life.deleteVolume('TS0001L9', { actor: 'alice', reason: 'tape retired' });
  assert.equal(del.outcome, 'renamed');
  assert.equal(del.label, 'TS0001L9.deleted');
  const deleted = await rig.volumes.getVolume('TS0001L9.deleted');
  assert.equal(deleted.systemInhibit.access, 'DELETED');
  assert.equal(deleted.deletedFiles, 2, 'the deleted files still point at it');
  await rejects(rig.volumes.getVolume('TS0001L9'), 'NO_SUCH_VOLUME', /no volume TS0001L9/);
  await rejects(rig.volumes.checkAvailable('TS0001L9.deleted', 'read'), 'DELETED', /Volume TS0001L9\.deleted is DELETED/);
  await rejects(rig.life.deleteVolume('TS0001L9.deleted', op), 'CONFLICT', /already deleted/);
  // DELETED belongs to delete/restore, not to the inhibit commands.
  await rejects(rig.volumes.clearInhibit('TS0001L9.deleted', 'system', 'access', 'alice'), 'CONFLICT', /use `tapestry volume restore TS0001L9\.deleted`/);
  const h = (await rig.volumes.history('TS0001L9.deleted')).at(-1)!;
  assert.deepEqual([h.label, h.kind, h.oldValue, h.value, h.actor, h.reason], ['TS0001L9.deleted', 'deleted', 'TS0001L9', 'TS0001L9.deleted', 'alice', 'tape retired']);

  const restored = await rig.life.restoreVolume('TS0001L9.deleted', op);
  assert.deepEqual([restored.label, restored.systemInhibit.access, restored.volumeFamily], ['TS0001L9', 'none', 'default.raw.cpio_odc']);
  assert.equal((await rig.files.fileInfo(a.bfid)).state, 'deleted', 'restore brings the volume back, not its files');
  await rejects(rig.life.restoreVolume('TS0001L9', op), 'USERERROR', /only a deleted volume can be restored/);
  await rejects(rig.volumes.setInhibit('TS0001L9', { kind: 'system', field: 'access', value: 'DELETED' }, 'alice'), 'CONFLICT', /use `tapestry volume delete TS0001L9` to delete a volume/);

  // The label may be declared again while LABEL.deleted exists; a second delete of it then collides.
  await rig.life.deleteVolume('TS0001L9', op);
  await rig.volumes.addVolume({ label: 'TS0001L9', library: 'lib', mediaType: 'TEST' });
  await rejects(rig.life.restoreVolume('TS0001L9.deleted', op), 'CONFLICT', /a volume TS0001L9 was declared since/);
  await rejects(rig.life.eraseVolume('TS0001L9', op), 'USERERROR', /only a deleted volume \(LABEL\.deleted\) can be erased/);

  // A mount row of the old volume does not stop the erase (accounting keeps the id).
  const old = await rig.volumes.getVolume('TS0001L9.deleted');
  await rig.pool.query(`INSERT INTO mounts (volume_id, drive, state) VALUES ($1, 'drive-1', 'dismounted')`, [old.id]);
  assert.deepEqual(await rig.life.eraseVolume('TS0001L9.deleted', { actor: 'bob', reason: 'cartridge destroyed' }), { label: 'TS0001L9.deleted', erased: true });
  await rejects(rig.volumes.getVolume('TS0001L9.deleted'), 'NO_SUCH_VOLUME', /no volume/);
  assert.deepEqual(await kinds(rig, 'TS0001L9.deleted'), [
    'declared:->none.none.none',
    'family:->default.raw.cpio_odc',
    'location:->drive:drive-1',
    'location:->slot:1',
    'deleted:TS0001L9->TS0001L9.deleted',
    'restored:TS0001L9.deleted->TS0001L9',
    'deleted:TS0001L9->TS0001L9.deleted',
    'erased:TS0001L9.deleted->',
  ]);
  const files = await rig.pool.query<{ volume_id: number | null; file_no: number | null }>(`SELECT volume_id, file_no FROM files WHERE bfid = $1`, [a.bfid]);
  assert.deepEqual(files.rows[0], { volume_id: null, file_no: null }, 'the erased volume\'s files lose their position');
  // The new TS0001L9 has its own history.
  assert.deepEqual(await kinds(rig, 'TS0001L9'), ['declared:->none.none.none']);
  await rejects(rig.volumes.history('TS0999L9'), 'NO_SUCH_VOLUME', /no volume TS0999L9/);
});

test('delete of a never-written volume removes it; its history stays', async () => {
  const rig = await fresh();
  await rig.volumes.addVolume({ label: 'BLANK1', library: 'lib', mediaType: 'TEST', storageGroup: 'cms' });
  assert.deepEqual(await rig.life.deleteVolume('BLANK1', op), { outcome: 'removed', label: 'BLANK1' });
  await rejects(rig.volumes.getVolume('BLANK1'), 'NO_SUCH_VOLUME', /no volume BLANK1/);
  assert.deepEqual(await kinds(rig, 'BLANK1'), ['declared:->cms.none.none', 'removed:BLANK1->']);
  await rejects(rig.life.deleteVolume('BLANK1', op), 'NO_SUCH_VOLUME', /no volume BLANK1/);
});

test('recycle: back to the blank pool of its storage group, counters reset except mounts, and the next write starts at file 1', async () => {
  const rig = await fresh();
  await rig.volumes.addVolume({ label: 'TS0002L9', library: 'lib', mediaType: 'TEST' });
  const first = await writeFile(rig, '/exp/raw/one', 1000);
  await writeFile(rig, '/exp/raw/two', 2000);
  await rig.volumes.recordMount('TS0002L9', 'drive-1');
  await rejects(rig.life.recycleVolume('TS0002L9', op), 'CONFLICT', /in drive drive-1/);
  await rig.volumes.recordDismount('TS0002L9', 2);
  await rig.volumes.recordRead('TS0002L9');
  await rejects(rig.life.recycleVolume('TS0002L9', op), 'CONFLICT', /cannot recycle TS0002L9: 2 active files on it/);
  await rig.namespace.removeFile('/exp/raw/one');
  await rig.namespace.removeFile('/exp/raw/two');
  await rig.volumes.setInhibit('TS0002L9', { kind: 'user', field: 'access', value: 'NOACCESS' }, 'alice');
  await rejects(rig.life.recycleVolume('TS0002L9', op), 'CONFLICT', /it is NOACCESS \(user inhibit\); find out why, then `tapestry volume clear TS0002L9 user access`/);
  await rig.volumes.clearInhibit('TS0002L9', 'user', 'access', 'alice');
  await rig.volumes.setInhibit('TS0002L9', { kind: 'system', field: 'state', value: 'full' }, 'volume-clerk');

  const v = await rig.life.recycleVolume('TS0002L9', { actor: 'alice', reason: 'reuse' });
  assert.deepEqual(
    [v.volumeFamily, v.eodFileNo, v.remainingBytes, v.systemInhibit, v.activeFiles, v.deletedFiles, v.readAccesses, v.writeAccesses, v.mounts, v.firstAccessAt],
    ['default.none.none', null, CAP, { access: 'none', state: 'none' }, 0, 0, 0, 0, 1, null],
  );
  const h = (await rig.volumes.history('TS0002L9')).at(-1)!;
  assert.deepEqual([h.kind, h.oldValue, h.value, h.actor], ['recycled', 'default.raw.cpio_odc', 'default.none.none', 'alice']);
  assert.match(h.reason!, /^reuse; end of data was 3; 2 deleted file record\(s\) detached$/);
  const old = await rig.files.fileInfo(first.bfid);
  assert.deepEqual([old.state, old.volume, old.fileNo], ['deleted', null, null]);
  // It is in the default storage group's blank pool now, and takes the next raw file at position 1.
  const again = await writeFile(rig, '/exp/raw/three', 10);
  assert.deepEqual([again.label, again.fileNo], ['TS0002L9', 1]);
});

test('recycle of LABEL.deleted brings the label back; --clear-sg returns it to the common pool', async () => {
  const rig = await fresh();
  await rig.volumes.addVolume({ label: 'TS0003L9', library: 'lib', mediaType: 'TEST', storageGroup: 'default' });
  await writeFile(rig, '/exp/raw/x', 10);
  await rig.namespace.removeFile('/exp/raw/x');
  await rig.life.deleteVolume('TS0003L9', op);
  const v = await rig.life.recycleVolume('TS0003L9.deleted', { ...op, clearStorageGroup: true });
  assert.deepEqual([v.label, v.volumeFamily, v.systemInhibit.access], ['TS0003L9', 'none.none.none', 'none']);
  assert.match((await rig.volumes.history('TS0003L9')).at(-1)!.reason!, /TS0003L9\.deleted renamed TS0003L9/);
});

test('assign-sg only for blank volumes; write protection and comments keep old and new in the history', async () => {
  const rig = await fresh();
  await rig.volumes.addVolume({ label: 'TS0004L9', library: 'lib', mediaType: 'TEST' });
  await rig.volumes.addVolume({ label: 'TS0005L9', library: 'lib', mediaType: 'TEST' });
  const cms = await rig.life.assignStorageGroup('TS0004L9', 'cms', { actor: 'alice', reason: 'for CMS' });
  assert.equal(cms.volumeFamily, 'cms.none.none');
  assert.equal((await rig.life.assignStorageGroup('TS0004L9', 'none', op)).volumeFamily, 'none.none.none');
  await rejects(rig.life.assignStorageGroup('TS0004L9', 'bad sg', op), 'USERERROR', /storage_group/);
  await writeFile(rig, '/exp/raw/w', 10);
  await rejects(rig.life.assignStorageGroup('TS0004L9', 'cms', op), 'CONFLICT', /TS0004L9 is not blank \(family default\.raw\.cpio_odc, end of data at file 2\)/);

  // Write-protected: never chosen; the next file goes to the other blank.
  const wp = await rig.life.setWriteProtect('TS0004L9', true, { actor: 'alice', reason: 'tab flipped' });
  assert.equal(wp.writeProtected, 'y');
  assert.equal((await writeFile(rig, '/exp/raw/w2', 10)).label, 'TS0005L9');
  await rig.life.setWriteProtect('TS0004L9', true, op);
  await rig.life.setWriteProtect('TS0004L9', false, op);
  await rig.volumes.setComment('TS0004L9', 'first');
  await rig.volumes.setComment('TS0004L9', 'second', 'bob');
  assert.deepEqual((await kinds(rig, 'TS0004L9')).slice(1), [
    'storage_group:none->cms',
    'storage_group:cms->none',
    'family:->default.raw.cpio_odc',
    'write_protect:n->y',
    'write_protect:y->n',
    'comment:->first',
    'comment:first->second',
  ]);
  const last = (await rig.volumes.history('TS0004L9')).at(-1)!;
  assert.equal(last.actor, 'bob');
});

test('system and user inhibits are kept apart; NOVOLUME names the inhibit that starves a family; reads still work', async () => {
  const rig = await fresh();
  await rig.volumes.addVolume({ label: 'TS0006L9', library: 'lib', mediaType: 'TEST' });
  await writeFile(rig, '/exp/raw/r1', 10);
  // Operator's readonly and the system's readonly: clearing the system one leaves the operator's.
  await rig.volumes.setInhibit('TS0006L9', { kind: 'user', field: 'state', value: 'readonly' }, 'alice', 'keep it');
  await rig.volumes.setInhibit('TS0006L9', { kind: 'system', field: 'state', value: 'readonly' }, 'auto-readonly');
  const cleared = await rig.volumes.clearInhibit('TS0006L9', 'system', undefined, 'volume-clerk');
  assert.deepEqual([cleared.systemInhibit.state, cleared.userInhibit.state], ['none', 'readonly']);
  const h = (await rig.volumes.history('TS0006L9')).filter((e) => e.kind.endsWith('inhibit_state'));
  assert.deepEqual(h.map((e) => [e.kind, e.oldValue, e.value, e.actor]), [
    ['user_inhibit_state', 'none', 'readonly', 'alice'],
    ['system_inhibit_state', 'none', 'readonly', 'auto-readonly'],
    ['system_inhibit_state', 'readonly', 'none', 'volume-clerk'],
  ]);
  // A write for the family: its only volume is readonly, and no blank is left.
  await rejects(rig.volumes.checkAvailable('TS0006L9', 'write', { size: 1 }), 'READONLY', /Volume TS0006L9 is readonly \(set by an operator\)\./);
  const w = await rig.files.createWritingFile({ path: '/exp/raw/r2', size: 10 });
  await rejects(
    rig.volumes.nextWriteVolume({ library: 'lib', storageGroup: w.storageGroup, fileFamily: w.fileFamily, wrapper: w.wrapper, size: 10 }),
    'NOVOLUME',
    /^no new volumes available \[lib, default\.raw\.cpio_odc\]; this family's volumes are not writable: TS0006L9 is readonly \(set by an operator\)$/,
  );
  assert.match((await rig.alarms.list())[0]!.message, /TS0006L9 is readonly \(set by an operator\)/);
  // Reads of it still work.
  assert.equal((await rig.volumes.checkAvailable('TS0006L9', 'read')).label, 'TS0006L9');
  // A blank declared now takes the write: the family grows on another volume.
  await rig.volumes.addVolume({ label: 'TS0007L9', library: 'lib', mediaType: 'TEST' });
  assert.equal((await rig.volumes.nextWriteVolume({ library: 'lib', storageGroup: 'default', fileFamily: 'raw', wrapper: 'cpio_odc', size: 10 })).label, 'TS0007L9');
});

test('quotas: set, show used / quota, clear; a storage group at its quota gets STORAGE_QUOTA_EXCEEDED and an alarm', async () => {
  const rig = await fresh();
  await rig.volumes.addVolume({ label: 'COMM01', library: 'lib', mediaType: 'TEST' });
  await rig.volumes.addVolume({ label: 'COMM02', library: 'lib', mediaType: 'TEST' });
  await rig.volumes.addVolume({ label: 'CMS001', library: 'lib', mediaType: 'TEST', storageGroup: 'cms' });
  const set = await rig.quotas.set('lib', 'default', 1, 'alice');
  assert.deepEqual([set.library, set.storageGroup, set.used, set.quota], ['lib', 'default', 0, 1]);
  await writeFile(rig, '/exp/raw/q1', 500_000);
  // The one volume it took has no room for a big file: a second volume would exceed the quota.
  const big = await rig.files.createWritingFile({ path: '/exp/raw/q2', size: 900_000 });
  await rejects(
    rig.volumes.nextWriteVolume({ library: 'lib', storageGroup: 'default', fileFamily: 'raw', wrapper: 'cpio_odc', size: big.size }),
    'STORAGE_QUOTA_EXCEEDED',
    /storage group default has used its quota of volumes in lib/,
  );
  const alarm = (await rig.alarms.list()).find((a) => a.code === 'STORAGE_QUOTA_EXCEEDED');
  assert.equal(alarm?.key, 'STORAGE_QUOTA_EXCEEDED:lib:default');
  const shown = await rig.quotas.show();
  assert.deepEqual(shown.quotas.map((q) => [q.storageGroup, q.used, q.blank, q.quota]), [['cms', 1, 1, null], ['default', 1, 0, 1]]);
  assert.deepEqual(shown.commonPool, [{ library: 'lib', blank: 1 }]);
  // Raised: the alarm is resolved, and the write gets the last common blank.
  await rig.quotas.set('lib', 'default', 2);
  assert.equal((await rig.alarms.list()).filter((a) => a.code === 'STORAGE_QUOTA_EXCEEDED').length, 0, 'a quota with room resolves the alarm');
  assert.equal((await rig.volumes.nextWriteVolume({ library: 'lib', storageGroup: 'default', fileFamily: 'raw', wrapper: 'cpio_odc', size: big.size })).label, 'COMM02');
  assert.equal((await rig.quotas.clear('lib', 'default')).quota, null);
  await rejects(rig.quotas.clear('lib', 'default'), 'NOT_FOUND', /storage group default has no quota in library lib/);
  await rejects(rig.quotas.set('nolib', 'default', 1), 'USERERROR', /unknown library "nolib"/);
  await rejects(rig.quotas.set('lib', 'none', 1), 'USERERROR', /"none" is reserved/);
  await rejects(rig.quotas.set('lib', 'default', -1), 'USERERROR', /whole number/);
  await rejects(rig.quotas.show({ library: 'nolib' }), 'USERERROR', /unknown library/);
});
