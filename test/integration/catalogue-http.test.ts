import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { after, before, test } from 'node:test';
import { fileClerkRoutes } from '../../file-clerk/routes.ts';
import { alarmRoutes } from '../../src/alarms/routes.ts';
import { buildServer } from '../../src/http/server.ts';
import { silentLogger } from '../../src/logging/index.ts';
import { namespaceRoutes } from '../../src/namespace/routes.ts';
import { volumeClerkRoutes } from '../../volume-clerk/routes.ts';
import { catalogue, seedLibraries, type Catalogue } from '../helpers/catalogue.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';

let pgt: TestPostgres;
let app: FastifyInstance;
let cat: Catalogue;
before(async () => {
  pgt = await startTestPostgres();
  const pool = await pgt.pool();
  await seedLibraries(pool);
  cat = catalogue(pool);
  app = await buildServer({
    log: silentLogger(),
    version: 'test',
    plugins: [alarmRoutes(cat.alarms), namespaceRoutes(cat.namespace), fileClerkRoutes(cat.files), volumeClerkRoutes(cat.volumes)],
  });
});
after(async () => {
  await app.close();
  await pgt.stop();
});

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await app.inject({ method, url: `/api/v1${url}`, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, json: res.body ? JSON.parse(res.body) : undefined };
}

test('the catalogue over REST: namespace, tags, files, volumes, alarms (schemas keep every field)', async () => {
  let r = await call('POST', '/namespace/dirs', { path: '/exp/raw', parents: true, owner: 'alice' });
  assert.equal(r.status, 201);
  assert.deepEqual(r.json.created, ['/exp', '/exp/raw']);
  r = await call('PUT', `/namespace/tags/file_family?path=/exp/raw`, { value: 'raw' });
  assert.deepEqual(r.json, { tag: 'file_family', value: 'raw', origin: '/exp/raw', source: 'here' });
  r = await call('PUT', `/namespace/tags/file_family_width?path=/exp/raw`, { value: '0' });
  assert.equal(r.status, 400);
  assert.equal(r.json.code, 'USERERROR');
  assert.match(r.json.message, /illegal value "0" for tag file_family_width/);
  r = await call('GET', `/namespace/tags?path=${encodeURIComponent('/exp/raw')}`);
  assert.equal(r.json.tags.length, 5);

  r = await call('POST', '/volumes', { label: 'V00001', library: 'lib', mediaType: 'TEST' });
  assert.equal(r.status, 201);
  assert.equal(r.json.volumeFamily, 'none.none.none');
  assert.deepEqual(r.json.systemInhibit, { access: 'none', state: 'none' });
  assert.equal(r.json.capacityBytes, 1_000_000);

  r = await call('POST', '/files', { path: '/exp/raw/f1', size: 100, uid: 5 });
  assert.equal(r.status, 201);
  const bfid = r.json.bfid as string;
  assert.deepEqual({ ...r.json, bfid: 'x' }, { bfid: 'x', path: '/exp/raw/f1', size: 100, library: 'lib', storageGroup: 'default', fileFamily: 'raw', wrapper: 'cpio_odc', width: 1 });
  r = await call('POST', '/volumes/next-write', { library: 'lib', storageGroup: 'default', fileFamily: 'raw', wrapper: 'cpio_odc', size: 100 });
  assert.equal(r.json.label, 'V00001');
  r = await call('POST', `/files/${bfid}/position`, { volume: 'V00001', fileNo: 1, drive: 'drive-1', crc: 77 });
  assert.equal(r.status, 200);
  r = await call('POST', `/volumes/V00001/eod`, { eodFileNo: 2, bytesWritten: 100 });
  assert.equal(r.json.eodFileNo, 2);
  r = await call('POST', `/volumes/V00001/eod`, { eodFileNo: 1, bytesWritten: 100 });
  assert.equal(r.status, 409);
  r = await call('POST', `/files/${bfid}/activate`, { crc: 77 });
  assert.equal(r.json.state, 'active');

  r = await call('GET', `/files/info?path=/exp/raw/f1`);
  assert.deepEqual([r.json.bfid, r.json.crc, r.json.volume, r.json.fileNo, r.json.locationCookie, r.json.uid, r.json.abandoned], [bfid, 77, 'V00001', 1, '0000_000000000_0000001', 5, false]);
  r = await call('GET', `/files/info?volume=V00001&fileNo=1`);
  assert.equal(r.json.bfid, bfid);
  r = await call('GET', `/files/info?bfid=${bfid}`);
  assert.equal(r.json.path, '/exp/raw/f1');
  r = await call('GET', `/files/info?path=/x&bfid=${bfid}`);
  assert.equal(r.status, 400);
  r = await call('GET', '/volumes/V00001/files');
  assert.deepEqual(r.json.map((f: { fileNo: number }) => f.fileNo), [1]);
  r = await call('GET', '/namespace?path=/exp/raw');
  assert.deepEqual(r.json.entries.map((e: { name: string; state: string; bfid: string }) => [e.name, e.state, e.bfid]), [['f1', 'active', bfid]]);

  r = await call('POST', '/volumes/V00001/inhibits', { kind: 'user', field: 'access', value: 'NOACCESS', actor: 'alice', reason: 'test' });
  assert.deepEqual(r.json.userInhibit, { access: 'NOACCESS', state: 'none' });
  r = await call('GET', '/volumes/V00001/available?mode=read');
  assert.deepEqual([r.status, r.json.code, r.json.message], [409, 'NOACCESS', 'Volume V00001 is marked NOACCESS by an operator.']);
  r = await call('DELETE', '/volumes/V00001/inhibits?kind=user&actor=alice');
  assert.deepEqual(r.json.userInhibit, { access: 'none', state: 'none' });
  r = await call('GET', '/volumes/V00001/available?mode=read');
  assert.deepEqual([r.status, r.json.needsOperator], [200, false]);
  r = await call('GET', '/volumes/V00001/history');
  assert.deepEqual(r.json.map((h: { kind: string }) => h.kind), ['declared', 'family', 'user_inhibit_access', 'user_inhibit_access']);
  r = await call('GET', '/volumes?family=raw');
  assert.deepEqual(r.json.map((v: { label: string; activeFiles: number }) => [v.label, v.activeFiles]), [['V00001', 1]]);

  r = await call('DELETE', '/namespace/files?path=/exp/raw/f1');
  assert.deepEqual(r.json, { bfid, path: '/exp/raw/f1', state: 'deleted', volume: 'V00001', fileNo: 1 });
  r = await call('GET', '/volumes/V00001');
  assert.deepEqual([r.json.activeFiles, r.json.deletedFiles, r.json.deletedBytes], [0, 1, 100]);

  r = await call('POST', '/volumes/next-write', { library: 'lib', storageGroup: 'default', fileFamily: 'other', wrapper: 'cpio_odc', size: 1 });
  assert.deepEqual([r.status, r.json.code, r.json.message], [507, 'NOVOLUME', 'no new volumes available [lib, default.other.cpio_odc]']);
  r = await call('GET', '/alarms');
  assert.deepEqual(r.json.map((a: { key: string }) => a.key), ['NOVOLUME:lib:default.other.cpio_odc']);
  r = await call('POST', `/alarms/${r.json[0].id}/resolve`, { by: 'alice' });
  assert.equal(r.json.resolvedBy, 'alice');
  assert.deepEqual((await call('GET', '/alarms')).json, []);
  assert.equal((await call('GET', '/alarms?all=true')).json.length, 1);
  r = await call('POST', `/files/${bfid}/abandon`);
  assert.equal(r.status, 409);
});
