import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isTapestryError } from '../../src/errors/index.ts';
import { catalogue, seedLibraries, type Catalogue } from '../helpers/catalogue.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';

let pgt: TestPostgres;
before(async () => { pgt = await startTestPostgres(); });
after(async () => { await pgt.stop(); });

async function fresh(libraries?: string[]): Promise<Catalogue> {
  const pool = await pgt.pool();
  await seedLibraries(pool, { libraries });
  return catalogue(pool);
}

test('mkdir, mkdir -p, and the errors of each', async () => {
  const { namespace: ns } = await fresh();
  const made = await ns.mkdir('/exp/raw/2026', { parents: true, owner: 'alice' });
  assert.deepEqual(made.created, ['/exp', '/exp/raw', '/exp/raw/2026']);
  assert.equal(made.path, '/exp/raw/2026');
  assert.equal(made.owner, 'alice');
  assert.deepEqual((await ns.mkdir('/exp/raw', { parents: true })).created, []);
  await assert.rejects(ns.mkdir('/exp/raw'), (err) => isTapestryError(err, 'EXISTS') && /directory \/exp\/raw already exists/.test(err.message));
  await assert.rejects(ns.mkdir('/nope/x'), (err) => isTapestryError(err, 'NOT_FOUND') && /parent directory \/nope does not exist \(use -p/.test(err.message));
  await assert.rejects(ns.mkdir('/exp/../x'), (err) => isTapestryError(err, 'USERERROR'));
  await ns.mkdir('/exp/b');
  const listing = await ns.list('/exp');
  assert.equal(listing.kind, 'dir');
  assert.deepEqual(listing.entries.map((e) => [e.kind, e.name, e.path]), [['dir', 'b', '/exp/b'], ['dir', 'raw', '/exp/raw']]);
  assert.deepEqual((await ns.list('/')).entries.map((e) => e.name), ['exp']);
  assert.equal((await ns.stat('/exp/raw/')).kind, 'dir');
  await assert.rejects(ns.list('/exp/nothing'), (err) => isTapestryError(err, 'NOT_FOUND') && /no such file or directory: \/exp\/nothing/.test(err.message));
});

test('concurrent mkdir -p of overlapping trees creates each directory once', async () => {
  const { namespace: ns, pool } = await fresh();
  const paths = Array.from({ length: 20 }, (_, i) => `/c/d${i % 4}/e${Math.floor(i / 4) % 2}`);
  const results = await Promise.all(paths.map((p) => ns.mkdir(p, { parents: true })));
  const created = results.flatMap((r) => r.created).sort();
  assert.deepEqual(created, [...new Set(created)], 'a directory reported created twice');
  assert.equal(created.length, 1 + 4 + 8);
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM namespace_dirs');
  assert.equal(rows[0]!.n, 1 + 1 + 4 + 8);
});

test('tags are inherited with their origin, overridden below, and unset again', async () => {
  const { namespace: ns } = await fresh();
  await ns.mkdir('/exp/raw/sub/deeper', { parents: true });
  await ns.tagSet('/exp', 'storage_group', 'cms');
  await ns.tagSet('/exp/raw', 'file_family', 'raw');
  await ns.tagSet('/exp/raw', 'file_family_width', '02');
  const list = await ns.tagList('/exp/raw/sub');
  assert.deepEqual(list.tags, [
    { tag: 'file_family', value: 'raw', origin: '/exp/raw', source: 'inherited' },
    { tag: 'file_family_width', value: '2', origin: '/exp/raw', source: 'inherited' },
    { tag: 'file_family_wrapper', value: 'cpio_odc', origin: null, source: 'default' },
    { tag: 'library', value: 'lib', origin: null, source: 'default' },
    { tag: 'storage_group', value: 'cms', origin: '/exp', source: 'inherited' },
  ]);
  assert.deepEqual(await ns.tagGet('/exp/raw', 'file_family'), { tag: 'file_family', value: 'raw', origin: '/exp/raw', source: 'here' });
  // An override in a sub-directory applies to it and below, not above.
  await ns.tagSet('/exp/raw/sub', 'file_family', 'sub');
  assert.deepEqual(await ns.tagGet('/exp/raw/sub/deeper', 'file_family'), { tag: 'file_family', value: 'sub', origin: '/exp/raw/sub', source: 'inherited' });
  assert.equal((await ns.tagGet('/exp/raw', 'file_family')).value, 'raw');
  await ns.tagUnset('/exp/raw/sub', 'file_family');
  assert.deepEqual(await ns.tagGet('/exp/raw/sub/deeper', 'file_family'), { tag: 'file_family', value: 'raw', origin: '/exp/raw', source: 'inherited' });
  assert.deepEqual(await ns.tagGet('/', 'file_family'), { tag: 'file_family', value: null, origin: null, source: 'unset' });
});

test('illegal tag values and unknown libraries are USERERROR; the directory keeps its tags', async () => {
  const { namespace: ns } = await fresh(['lto8', 'lto9']);
  await ns.mkdir('/exp', {});
  await ns.tagSet('/exp', 'file_family_width', '3');
  const cases: [string, string, RegExp][] = [
    ['file_family_width', '0', /illegal value "0" for tag file_family_width/],
    ['file_family_width', '-1', /illegal value "-1" for tag file_family_width/],
    ['file_family', 'raw data', /illegal value "raw data" for tag file_family/],
    ['library', 'lto7', /illegal value "lto7" for tag library: no such library \(known: lto8, lto9\)/],
    ['file_family_wrapper', 'null', /for tag file_family_wrapper/],
    ['colour', 'blue', /unknown tag "colour"/],
  ];
  for (const [tag, value, why] of cases) {
    await assert.rejects(ns.tagSet('/exp', tag, value), (err) => isTapestryError(err, 'USERERROR') && why.test(err.message), `${tag}=${value}`);
  }
  assert.equal((await ns.tagGet('/exp', 'file_family_width')).value, '3');
  // With two libraries there is no default library.
  assert.equal((await ns.tagGet('/exp', 'library')).source, 'unset');
  assert.equal((await ns.tagSet('/exp', 'library', 'lto8')).value, 'lto8');
  await assert.rejects(ns.tagSet('/nope', 'file_family', 'x'), (err) => isTapestryError(err, 'NOT_FOUND') && /directory \/nope does not exist/.test(err.message));
});
