import assert from 'node:assert/strict';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { validateConfig } from '../../src/config/index.ts';
import { isTapestryError, TapestryError } from '../../src/errors/index.ts';
import { JobRunner, type JobEvent } from '../../src/jobs/index.ts';
import { silentLogger } from '../../src/logging/index.ts';
import { AUTO_READONLY_JOB, startVolumeAdmin, VOLUME_QUEUE } from '../../volume-clerk/admin.ts';
import { AutoReadonly, type AutoReadonlyRun } from '../../volume-clerk/auto-readonly-service.ts';
import { catalogue, seedLibraries, type Catalogue } from '../helpers/catalogue.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';

/**
 * The background-job runner on BullMQ's PostgreSQL backend (real Postgres,
 * jobs in the same database) and its first job, automatic read-only, on an
 * injected virtual clock: BullMQ decides when a job runs, the clock decides
 * how old a file is.
 */
let pgt: TestPostgres;
before(async () => { pgt = await startTestPostgres(); });
after(async () => { await pgt.stop(); });

const DAY = 86_400_000;
const log = silentLogger();

/** The next `completed`/`failed` event of job `name` on `queue`. */
async function next(runner: JobRunner, kind: 'completed' | 'failed', name: string): Promise<JobEvent> {
  for (;;) {
    const [e] = (await once(runner.events, kind)) as [JobEvent];
    if (e.name === name) return e;
  }
}

test('JobRunner: a scheduled job runs repeatedly, runNow answers at once, failures are reported, schedules are pruned, close ends everything', async () => {
  const url = await pgt.database();
  const runner = await JobRunner.start({ url, log });
  try {
    let runs = 0;
    runner.define<{ n: number }, { seen: number }>('test-queue', 'tick', async (data) => ({ seen: data.n + ++runs }));
    runner.define('test-queue', 'broken', async () => {
      throw new TapestryError('NOACCESS', 'volume V is marked NOACCESS');
    });
    assert.throws(() => runner.define('test-queue', 'tick', async () => 1), (err) => isTapestryError(err, 'CONFLICT'));

    // Scheduled every 50 ms: wait for two runs (events, not time).
    const firstTwo = (async () => [await next(runner, 'completed', 'tick'), await next(runner, 'completed', 'tick')])();
    await runner.schedule('test-queue', 'tick:a', 'tick', 50, { n: 100 });
    const [a, b] = await firstTwo;
    assert.ok((a!.result as { seen: number }).seen > 100);
    assert.ok((b!.result as { seen: number }).seen > (a!.result as { seen: number }).seen);
    // Scheduling the same id again replaces it rather than adding a second one.
    await runner.schedule('test-queue', 'tick:a', 'tick', 60_000, { n: 100 });
    await runner.schedule('test-queue', 'tick:b', 'tick', 60_000, { n: 0 });
    assert.deepEqual((await runner.schedules('test-queue')).map((s) => [s.id, s.everyMs]).sort(), [['tick:a', 60_000], ['tick:b', 60_000]]);
    assert.deepEqual(await runner.pruneSchedules('test-queue', 'tick:', ['tick:a']), ['tick:b']);
    assert.deepEqual((await runner.schedules('test-queue')).map((s) => s.id), ['tick:a']);

    // runNow: the handler's answer, here and now.
    assert.deepEqual(await runner.runNow('test-queue', 'tick', { n: 1000 }), { seen: 1000 + runs });
    await assert.rejects(runner.runNow('test-queue', 'nope'), (err) => isTapestryError(err, 'NOT_FOUND'));

    // A queued job whose handler fails with a non-retryable error fails for good, with the message.
    const failed = next(runner, 'failed', 'broken');
    await runner.enqueue('test-queue', 'broken');
    assert.match((await failed).error!.message, /NOACCESS: volume V is marked NOACCESS/);

    // BullMQ's tables live in schema bullmq of the same database.
    const pool = (await import('../../src/db/index.ts')).createPool(url);
    try {
      const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'bullmq'`);
      assert.ok(rows[0]!.n > 0);
    } finally {
      await pool.end();
    }
  } finally {
    await runner.close();
    await runner.close();
  }
  assert.throws(() => runner.define('q', 'late', async () => 1), (err) => isTapestryError(err, 'CONFLICT'));
});

/** /exp/<ff> tagged with file family <ff>; a file written to the family's volume at the clock's time. */
async function writeFile(cat: Catalogue, ff: string, name: string): Promise<string> {
  const dir = `/exp/${ff}`;
  await cat.namespace.mkdir(dir, { parents: true }).catch((err) => { if (!isTapestryError(err, 'EXISTS')) throw err; });
  await cat.namespace.tagSet(dir, 'file_family', ff);
  const w = await cat.files.createWritingFile({ path: `${dir}/${name}`, size: 10 });
  const vol = await cat.volumes.nextWriteVolume({ library: w.library, storageGroup: w.storageGroup, fileFamily: w.fileFamily, wrapper: w.wrapper, size: 10 });
  const fileNo = vol.eodFileNo ?? 1;
  await cat.files.assignPosition(w.bfid, { volume: vol.label, fileNo, drive: 'drive-1', crc: 1 });
  await cat.volumes.recordWrite(vol.label, { eodFileNo: fileNo + 1, bytesWritten: 10 });
  await cat.files.activate(w.bfid, 1);
  return vol.label;
}

async function catalogueWithVolumes(): Promise<Catalogue> {
  const pool = await pgt.pool();
  await seedLibraries(pool);
  const cat = catalogue(pool);
  for (const label of ['VOLA01', 'VOLB01', 'VOLC01', 'BLANK1']) {
    await cat.volumes.addVolume({ label, library: 'lib', mediaType: 'TEST' });
    await cat.clock.advance(1000);
  }
  return cat;
}

test('auto-readonly on a virtual clock: files older than the age (or the family\'s own age) close their volume with a system inhibit and a history row', async () => {
  const cat = await catalogueWithVolumes();
  const ar = new AutoReadonly({ pool: cat.pool, clock: cat.clock, log, policies: new Map([['lib', { olderThanMs: 30 * DAY, families: new Map([['fast', 7 * DAY]]) }]]) });
  assert.equal(await writeFile(cat, 'slow', 's1'), 'VOLA01');
  assert.equal(await writeFile(cat, 'fast', 'f1'), 'VOLB01');
  await cat.clock.advance(10 * DAY);
  assert.equal(await writeFile(cat, 'late', 'l1'), 'VOLC01');
  // A user readonly is the operator's: the job still sets its own.
  await cat.volumes.setInhibit('VOLB01', { kind: 'user', field: 'state', value: 'readonly' }, 'alice');

  // Day 10: only the fast family (7 days) is old enough.
  let [run] = await ar.run();
  assert.deepEqual([run!.library, run!.considered, run!.marked.map((m) => [m.label, m.fileFamily, m.olderThanMs])], ['lib', 3, [['VOLB01', 'fast', 7 * DAY]]]);
  const b = await cat.volumes.getVolume('VOLB01');
  assert.deepEqual([b.systemInhibit.state, b.userInhibit.state], ['readonly', 'readonly']);
  const h = (await cat.volumes.history('VOLB01')).at(-1)!;
  assert.deepEqual([h.kind, h.oldValue, h.value, h.actor], ['system_inhibit_state', 'none', 'readonly', 'auto-readonly']);
  assert.equal(h.reason, 'no file written since 2026-01-01T00:00:04.000Z, older than 7d (auto_readonly of file family fast)');

  // Day 31: slow (written day 0) is past 30 days, late (day 10) is not; fast is already done.
  await cat.clock.advance(21 * DAY);
  [run] = await ar.run();
  assert.deepEqual([run!.considered, run!.marked.map((m) => m.label)], [2, ['VOLA01']]);
  assert.match((await cat.volumes.history('VOLA01')).at(-1)!.reason!, /older than 30d \(auto_readonly of library lib\)$/);
  // Reads still work; writes of the slow family go to a new volume.
  assert.equal((await cat.volumes.checkAvailable('VOLA01', 'read')).label, 'VOLA01');
  assert.equal(await writeFile(cat, 'slow', 's2'), 'BLANK1');
  // Running again changes nothing.
  [run] = await ar.run();
  assert.deepEqual(run!.marked, []);

  // An age given on the spot overrides the policy; a library without a policy needs one.
  const bare = new AutoReadonly({ pool: cat.pool, clock: cat.clock, log, policies: new Map() });
  assert.deepEqual(await bare.run(), []);
  await assert.rejects(bare.run({ library: 'lib' }), (err) => isTapestryError(err, 'USERERROR') && /library lib has no auto_readonly in the config; give an age/.test(err.message));
  await assert.rejects(bare.run({ library: 'nolib', olderThanMs: 1 }), (err) => isTapestryError(err, 'USERERROR') && /unknown library "nolib"/.test(err.message));
  await cat.clock.advance(1000);
  [run] = await bare.run({ library: 'lib', olderThanMs: 0 });
  assert.deepEqual(run!.marked.map((m) => m.label), ['BLANK1', 'VOLC01']);
});

test('the auto-readonly job, scheduled from the config through the job runner, marks old volumes on its own', async () => {
  const cat = await catalogueWithVolumes();
  await writeFile(cat, 'raw', 'r1');
  await cat.clock.advance(2 * DAY);
  const url = cat.pool.options.connectionString!;
  const runner = await JobRunner.start({ url, log });
  try {
    const config = { libraries: new Map([['lib', { name: 'lib', autoReadonly: { everyMs: 60_000, olderThanMs: DAY, families: new Map() } }]]) } as unknown as Parameters<typeof startVolumeAdmin>[0]['config'];
    const done = next(runner, 'completed', AUTO_READONLY_JOB);
    // The first run of a new schedule is due at once.
    await startVolumeAdmin({ pool: cat.pool, clock: cat.clock, log, clerk: cat.volumes, config, jobs: runner });
    const runs = (await done).result as AutoReadonlyRun[];
    assert.deepEqual(runs.map((r) => [r.library, r.marked.map((m) => m.label)]), [['lib', ['VOLA01']]]);
    assert.equal((await cat.volumes.getVolume('VOLA01')).systemInhibit.state, 'readonly');
    assert.deepEqual((await runner.schedules(VOLUME_QUEUE)).map((s) => [s.id, s.everyMs]), [['auto-readonly:lib', 60_000]]);
  } finally {
    await runner.close();
  }
  // Restarted with auto_readonly removed from the config: its schedule goes.
  const again = await JobRunner.start({ url, log });
  try {
    await startVolumeAdmin({ pool: cat.pool, clock: cat.clock, log, clerk: cat.volumes, config: { libraries: new Map() }, jobs: again });
    assert.deepEqual(await again.schedules(VOLUME_QUEUE), []);
  } finally {
    await again.close();
  }
});

test('config: auto_readonly per library with family ages; every problem listed with its key path', () => {
  const base = parse(`
media_types: { LTO9: { capacity: 18TB, rate: 400MB/s, load: 16s, unload: 56s, locate_avg: 65s, rewind_avg: 62s } }
robots: { r1: { device: /dev/null, slots: 10, drives: 1 } }
drives: [{ name: d1, library: lib, element: 1 }]
`) as Record<string, unknown>;
  const withLib = (lib: Record<string, unknown>): ReturnType<typeof validateConfig> =>
    validateConfig({ ...base, libraries: { lib: { robot: 'r1', media_type: 'LTO9', ...lib } } }, path.resolve('/tmp'), null);

  const ok = withLib({ auto_readonly: { every: '1h', older_than: '30d', families: { raw: { older_than: '7d' } } } });
  assert.deepEqual(ok.problems, []);
  const ar = ok.config!.libraries.get('lib')!.autoReadonly!;
  assert.deepEqual([ar.everyMs, ar.olderThanMs, [...ar.families]], [3_600_000, 30 * DAY, [['raw', 7 * DAY]]]);
  assert.equal(withLib({}).config!.libraries.get('lib')!.autoReadonly, null);
  assert.equal(withLib({ auto_readonly: { older_than: '2d' } }).config!.libraries.get('lib')!.autoReadonly!.everyMs, 3_600_000, 'every defaults to 1h');

  const bad = withLib({ auto_readonly: { every: '0s', older_than: 'a month', often: true, families: { 'bad name': { older_than: '1d' }, raw: { older_than: 'soon' }, none: { older_than: '1d' } } } });
  assert.equal(bad.config, null);
  assert.deepEqual(bad.problems.map((p) => p.path).sort(), [
    'libraries.lib.auto_readonly.every',
    'libraries.lib.auto_readonly.families.bad name',
    'libraries.lib.auto_readonly.families.none',
    'libraries.lib.auto_readonly.families.raw.older_than',
    'libraries.lib.auto_readonly.often',
    'libraries.lib.auto_readonly.older_than',
  ]);
  assert.match(withLib({ auto_readonly: {} }).problems[0]!.message, /is required \(a duration such as 30d\)/);
  assert.match(withLib({ auto_readonly: '30d' }).problems[0]!.message, /must be a mapping/);
});
