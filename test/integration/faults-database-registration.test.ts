import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import path from 'node:path';
import { parse } from 'yaml';
import { retryingCatalogue } from '../../movers/catalogue-retry.ts';
import { checkConfigFile, validateConfig } from '../../src/config/index.ts';
import type { MoverCatalogue } from '../../movers/mover.ts';
import { DbAvailability, isDbUnavailable, retryWhileUnavailable, type Queryable } from '../../src/db/index.ts';
import { isTapestryError, TapestryError } from '../../src/errors/index.ts';
import { silentLogger, type Logger } from '../../src/logging/index.ts';
import { moverCatalogue } from '../../tools/tapestry/start-transfers.ts';
import { catalogue, seedLibraries, type Catalogue } from '../helpers/catalogue.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';

/**
 * Issue 5, item 5 at the catalogue: a mover that repeats its registration
 * after the database went away (it cannot know whether its first attempt
 * committed) registers the file once, and a write whose registration was
 * given up is registered once on its retry, wherever that lands.
 */
let pgt: TestPostgres;
before(async () => { pgt = await startTestPostgres(); });
after(async () => { await pgt.stop(); });

const CAP = 1_000_000;

async function fresh(): Promise<{ cat: Catalogue; mc: MoverCatalogue }> {
  const pool = await pgt.pool();
  await seedLibraries(pool, { capacity: CAP });
  const cat = catalogue(pool);
  await cat.namespace.mkdir('/exp/raw', { parents: true });
  await cat.namespace.tagSet('/exp/raw', 'file_family', 'raw');
  for (const label of ['V00001', 'V00002']) await cat.volumes.addVolume({ label, library: 'lib', mediaType: 'TEST' });
  return { cat, mc: moverCatalogue(cat.files, cat.volumes) };
}

/** A new 'writing' file and the volume the volume clerk gives it (labelled: end-of-data 1). */
async function writing(cat: Catalogue, mc: MoverCatalogue, name: string, veto: string[] = []): Promise<{ bfid: string; label: string }> {
  const w = await cat.files.createWritingFile({ path: `/exp/raw/${name}`, size: 100 });
  const vol = await cat.volumes.nextWriteVolume({ library: w.library, storageGroup: w.storageGroup, fileFamily: w.fileFamily, wrapper: w.wrapper, size: 100, veto });
  if (vol.eodFileNo === null) await mc.labelled(vol.label, 80);
  return { bfid: w.bfid, label: vol.label };
}

const unreachable = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

test('a registration repeated after every step (assignPosition, recordWrite, activate) registers the file once and moves end-of-data once', async () => {
  const { cat, mc } = await fresh();
  const a = await writing(cat, mc, 'a');
  const reg = { bfid: a.bfid, volume: a.label, fileNo: 1, drive: 'drive-1', tapeBytes: 100, crc: 77 };
  // The label's registration replayed (VOL1 just written, end-of-data 1 already).
  await mc.labelled(a.label, 80);
  // Attempt 1 "died" after assignPosition; attempt 2 after recordWrite; attempts 3 and 4 ran to the end.
  await cat.files.assignPosition(a.bfid, { volume: a.label, fileNo: 1, drive: 'drive-1', crc: 77 });
  await cat.volumes.recordWrite(a.label, { eodFileNo: 2, bytesWritten: 100, replayOf: a.bfid });
  await mc.registerWrite(reg);
  await mc.registerWrite(reg);
  const v = await cat.volumes.getVolume(a.label);
  assert.deepEqual([v.eodFileNo, v.remainingBytes, v.writeAccesses, v.activeFiles], [2, CAP - 80 - 100, 2, 1]);
  const f = await cat.files.fileInfo(a.bfid);
  assert.deepEqual([f.state, f.volume, f.fileNo, f.crc], ['active', a.label, 1, 77]);
  // The next file appends after it; a replay of a file's recordWrite naming another bfid is refused.
  const b = await writing(cat, mc, 'b');
  assert.equal(b.label, a.label);
  await mc.registerWrite({ ...reg, bfid: b.bfid, fileNo: 2, crc: 78 });
  await assert.rejects(cat.volumes.recordWrite(a.label, { eodFileNo: 3, bytesWritten: 100, replayOf: a.bfid }), (err) => isTapestryError(err, 'CONFLICT') && /already 3/.test(err.message));
  assert.equal((await cat.volumes.getVolume(a.label)).eodFileNo, 3);
});

test('a write whose registration was given up after assignPosition is registered once on its retry; its stale position does not block the next write there', async () => {
  const { cat, mc } = await fresh();
  const a = await writing(cat, mc, 'a');
  // Attempt 1: bytes at V00001:1, position recorded, then the database went away for longer than the limit.
  await cat.files.assignPosition(a.bfid, { volume: a.label, fileNo: 1, drive: 'drive-1', crc: 5, replaceUnregistered: true });
  // Another write reaches V00001 first and overwrites file 1 (end-of-data is still 1).
  const b = await writing(cat, mc, 'b');
  assert.equal(b.label, a.label);
  await mc.registerWrite({ bfid: b.bfid, volume: b.label, fileNo: 1, drive: 'drive-2', tapeBytes: 100, crc: 6 });
  // Attempt 2 of the first write lands on the other volume (the family's second one, labelled now).
  const fa0 = await cat.files.fileInfo(a.bfid);
  const other = (await cat.volumes.nextWriteVolume({ library: fa0.library, storageGroup: fa0.storageGroup, fileFamily: fa0.fileFamily, wrapper: fa0.wrapper, size: 100, veto: [a.label] })).label;
  assert.notEqual(other, a.label);
  await mc.labelled(other, 80);
  await mc.registerWrite({ bfid: a.bfid, volume: other, fileNo: 1, drive: 'drive-3', tapeBytes: 100, crc: 5 });
  const [fa, fb] = [await cat.files.fileInfo(a.bfid), await cat.files.fileInfo(b.bfid)];
  assert.deepEqual([fa.state, fa.volume, fa.fileNo], ['active', other, 1]);
  assert.deepEqual([fb.state, fb.volume, fb.fileNo], ['active', a.label, 1]);
  assert.deepEqual([(await cat.volumes.getVolume(a.label)).eodFileNo, (await cat.volumes.getVolume(other)).eodFileNo], [2, 2]);
  // Without the mover's flag the old rule holds: one position per file.
  const c = await writing(cat, mc, 'c');
  await cat.files.assignPosition(c.bfid, { volume: c.label, fileNo: 2 });
  await assert.rejects(cat.files.assignPosition(c.bfid, { volume: c.label, fileNo: 3 }), (err) => isTapestryError(err, 'CONFLICT') && /already has position 2/.test(err.message));
});

test('the retrying catalogue holds a call through an outage, gives up as UNAVAILABLE (retryable) past its limit, and passes other errors at once', async () => {
  let failures = 2;
  let calls = 0;
  const inner = {
    async volume() {
      calls++;
      if (failures-- > 0) throw unreachable();
      return { eodFileNo: 3, blockSize: 512 };
    },
    async registerWrite() {
      calls++;
      throw unreachable();
    },
    async recordRead() {
      calls++;
      throw new TapestryError('NO_SUCH_VOLUME', 'no volume X');
    },
  } as unknown as MoverCatalogue;
  const availability = new DbAvailability({ db: { query: async () => ({ rows: [] }) } as unknown as Queryable, log: silentLogger() });
  const mc = retryingCatalogue(inner, { limitMs: 1_500, log: silentLogger(), availability });
  assert.deepEqual(await mc.volume('V1'), { eodFileNo: 3, blockSize: 512 });
  assert.equal(calls, 3);
  assert.equal(availability.state, 'down', 'the failures were reported to the watcher');
  calls = 0;
  await assert.rejects(mc.registerWrite({ bfid: 'B1', volume: 'V1', fileNo: 1, drive: 'd', tapeBytes: 1, crc: 1 }), (err) => {
    assert.ok(isTapestryError(err, 'UNAVAILABLE'));
    assert.equal(err.retryable, true);
    assert.match(err.message, /registration of B1 at V1:1\) has been unreachable for \d+ s/);
    return true;
  });
  assert.ok(calls >= 3, `retried with backoff (${calls} calls)`);
  calls = 0;
  await assert.rejects(mc.recordRead('X'), (err) => isTapestryError(err, 'NO_SUCH_VOLUME'));
  assert.equal(calls, 1);
});

test('isDbUnavailable: refused, reset, shutting down and cut connections are outages; SQL errors are not', () => {
  const cases: [unknown, boolean][] = [
    [unreachable(), true],
    [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), true],
    [Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }), true],
    [Object.assign(new Error('the database system is shutting down'), { code: '57P03' }), true],
    [new Error('Connection terminated unexpectedly'), true],
    [new Error('timeout exceeded when trying to connect'), true],
    [Object.assign(new AggregateError([unreachable(), unreachable()], 'connect failed')), true],
    [Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }), false],
    [Object.assign(new Error('relation "nope" does not exist'), { code: '42P01' }), false],
    [new TapestryError('DRIVE_ERROR', 'the drive failed', { cause: unreachable() }), false],
    [new TapestryError('UNAVAILABLE', 'db', { context: { database: true } }), true],
    [null, false],
  ];
  for (const [err, expected] of cases) assert.equal(isDbUnavailable(err), expected, String((err as Error)?.message ?? err));
});

test('DbAvailability logs db.unavailable and db.available once per transition, however many failures it sees', async () => {
  const logged: string[] = [];
  const log: Logger = {
    ...silentLogger(),
    child: () => log,
    error: (o) => void logged.push((o as { event: string }).event),
    warn: (o) => void logged.push((o as { event: string }).event),
    info: () => undefined,
  } as Logger;
  let up = true;
  const db = { query: async () => { if (!up) throw unreachable(); return { rows: [] }; } } as unknown as Queryable;
  const availability = new DbAvailability({ db, log });
  const seen: string[] = [];
  availability.onChange((s) => seen.push(s));
  await availability.probe();
  up = false;
  for (let i = 0; i < 5; i++) await availability.probe();
  availability.reportFailure(unreachable());
  availability.reportFailure(new Error('syntax error')); // not an outage: changes nothing
  assert.equal(availability.status.state, 'down');
  assert.match(availability.status.error ?? '', /ECONNREFUSED/);
  up = true;
  await availability.probe();
  await availability.probe();
  assert.deepEqual(seen, ['down', 'up']);
  assert.deepEqual(logged, ['db.unavailable', 'db.available']);
  // And the retry helper: aborted by its signal while waiting.
  const ac = new AbortController();
  const waiting = retryWhileUnavailable(async () => { throw unreachable(); }, { limitMs: Infinity, what: 'x', signal: ac.signal });
  setTimeout(() => ac.abort(new Error('stopping')), 50);
  await assert.rejects(waiting, /stopping/);
});

test('database.outage: defaults keep the example tapestry.yaml working; bad values are problems named by their key', () => {
  const example = checkConfigFile(path.resolve(import.meta.dirname, '../../tapestry.yaml'));
  assert.deepEqual(example.problems, []);
  assert.deepEqual(example.config!.database.outage, { registrationRetryMs: 300_000, checkIntervalMs: 1_000 });
  const ok = validateConfig(parse('database:\n  outage:\n    registration_retry: 90s\n    check_interval: 250ms\n'), '/tmp', null);
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.config!.database.outage, { registrationRetryMs: 90_000, checkIntervalMs: 250 });
  const bad = validateConfig(parse('database:\n  outage:\n    registration_retry: soon\n    check_interval: 10ms\n    retries: 3\n'), '/tmp', null);
  assert.equal(bad.config, null);
  const text = bad.problems.map((p) => `${p.path}: ${p.message}`);
  assert.ok(text.some((t) => t.startsWith('database.outage.registration_retry:')), text.join('\n'));
  assert.ok(text.some((t) => t === 'database.outage.check_interval: must be at least 100ms'), text.join('\n'));
  assert.ok(text.some((t) => t.startsWith('database.outage.retries: unknown key')), text.join('\n'));
});
