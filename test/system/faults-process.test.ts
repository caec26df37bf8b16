import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { encp, startTapestry, tapestry, type RunningTapestry } from '../helpers/cli.ts';
import { eachLimit, encpInBackground, freePort, startMover, waitFor, type Proc } from '../helpers/processes.ts';
import { makeTestInstallation, type TestInstallation } from '../helpers/system-config.ts';

/**
 * Process crashes (issue 5 item 3, docs/faults-process.md): movers and the
 * `tapestry start` process SIGKILLed mid-transfer and with a full queue.
 * Two remote movers (drive-2, drive-3) run as their own processes so they
 * can be killed alone; the drive rate is slow (1 MB/s real) so an 8 MB
 * transfer takes seconds and a kill lands in its middle. The API listens on
 * a fixed port so encp finds it again after a restart.
 */
let inst: TestInstallation;
let sys: RunningTapestry;
let port: number;
let env: NodeJS.ProcessEnv;
let work: string;
const movers = new Map<string, Proc>();

const BIG = 8_000_000;

before(async () => {
  port = await freePort();
  inst = await makeTestInstallation({
    replace: [
      [/^  - name: drive-1\n    library: lto9\n    element: 1 .*\n/m, ''],
      [/^    element: 2$/m, '    element: 2\n    mover: remote'],
      [/^    element: 3$/m, '    element: 3\n    mover: remote'],
      [/^  - name: drive-4\n    library: lto9\n    element: 4\n/m, ''],
      [/^  port: 0$/m, `  port: ${port}`],
      // 1 kB/s at time scale 0.001: 1 MB/s of real time (an 8 MB transfer takes 8 s).
      [/^    rate: 400MB\/s.*$/m, '    rate: 1kB/s'],
    ],
  });
  sys = await startTapestry(inst.configFile);
  env = { TAPESTRY_URL: sys.url };
  work = path.join(inst.dir, 'work');
  await fs.mkdir(work);
  // Set-up through the REST API: on a busy 2-core machine each CLI run costs seconds.
  for (const [dir, family] of [['/exp/p', 'pf'], ['/exp/q', 'qf']] as const) {
    await api('POST', '/namespace/dirs', { path: dir, parents: true });
    await api('PUT', `/namespace/tags/file_family?path=${encodeURIComponent(dir)}`, { value: family });
  }
});

after(async () => {
  for (const m of movers.values()) await m.kill('SIGINT');
  await sys?.stop('SIGINT');
  await inst?.remove();
});

async function mover(drive: string): Promise<Proc> {
  const m = await startMover(inst.configFile, drive, env);
  movers.set(drive, m);
  return m;
}

async function killMover(drive: string): Promise<void> {
  await movers.get(drive)!.kill('SIGKILL');
  movers.delete(drive);
}

async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${sys.url}/api/v1${route}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

async function cliJson<T>(args: readonly string[]): Promise<T> {
  const r = await tapestry([...args, '--json'], env);
  assert.equal(r.code, 0, `tapestry ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface QueueRow { id: number; kind: string; state: string; priority: number; bfid: string | null; mover: string | null; attempts: number; lastError: string | null }
interface FileInfo { bfid: string; state: string; volume: string | null; fileNo: number | null }
interface Transfer { requestId: number; mover: string; ok: boolean | null; errorCode: string | null; direction: string; volume: string; fileNo: number | null }

/** SIGKILL the `tapestry start` process only (its embedded PostgreSQL lives on and is adopted), then start it again. */
async function crashAndRestart(): Promise<void> {
  const exited = new Promise((resolve) => sys.child.once('exit', resolve));
  process.kill(sys.child.pid!, 'SIGKILL');
  await exited;
  sys = await startTapestry(inst.configFile);
}

/** The catalogue's entry for a path, through the REST API (a CLI run costs seconds on a busy machine: too slow to catch a transfer mid-way). */
const fileInfo = (p: string): Promise<FileInfo> => api<FileInfo>('GET', `/files/info?path=${encodeURIComponent(p)}`);

const moverState = (name: string, state: 'online' | 'offline'): Promise<unknown> => api('POST', `/movers/${name}/state`, { state });

const queue = async (): Promise<QueueRow[]> => (await api<{ requests: QueueRow[] }>('GET', '/libraries/lto9/queue')).requests;
const sha = async (f: string): Promise<string> => createHash('sha256').update(await fs.readFile(f)).digest('hex');

async function localFile(name: string, size: number): Promise<string> {
  const f = path.join(work, name);
  await fs.writeFile(f, randomBytes(size));
  return f;
}

/** The open request for a file (by bfid), once it is at a mover. */
function atMover(bfid: string, kind: 'read' | 'write'): Promise<QueueRow> {
  return waitFor(`the ${kind} of ${bfid} at a mover`, async () => (await queue()).find((r) => r.bfid === bfid && r.kind === kind && r.state !== 'queued' && r.mover !== null));
}

let V = '';
let W = '';
let f1Bfid = '';

test('(a) a mover killed mid-write: nothing registered, re-queued, written on another drive; the volume appends after its last good file', async () => {
  await mover('drive-2');
  const f0 = await localFile('f0.dat', 100_000);
  const w0 = await encp(['--json', f0, '/exp/p/f0.dat'], env);
  assert.equal(w0.code, 0, w0.stderr);
  V = (JSON.parse(w0.stdout) as { volume: string }).volume;

  const f1 = await localFile('f1.dat', BIG);
  const w1 = encpInBackground(['--json', f1, '/exp/p/f1.dat'], env);
  f1Bfid = await waitFor('the file entry of f1', async () => (await fileInfo('/exp/p/f1.dat')).bfid);
  const req = await atMover(f1Bfid, 'write');
  assert.equal(req.mover, 'drive-2');
  // Mid-write: the 8 MB take about 8 s at this rate.
  await new Promise((r) => setTimeout(r, 2000));
  await killMover('drive-2');

  // The session dropped: the request goes back to the queue with the cause; nothing is registered.
  const requeued = await waitFor('f1 re-queued', async () => (await queue()).find((r) => r.id === req.id && r.state === 'queued'));
  assert.equal(requeued.attempts, 1);
  assert.match(requeued.lastError ?? '', /^DRIVE_ERROR: mover drive-2 went away/);
  const pending = await fileInfo('/exp/p/f1.dat');
  assert.equal(pending.state, 'writing', 'no active file for the bfid until the retry');
  assert.equal(pending.fileNo, null);

  // Another drive takes it; V is still in drive-2's bay, so another volume is used.
  await mover('drive-3');
  const r1 = await w1.result;
  assert.equal(r1.code, 0, r1.stderr);
  const out1 = JSON.parse(r1.stdout) as { ok: boolean; mover: string; volume: string; fileNo: number; bfid: string };
  assert.equal(out1.mover, 'drive-3');
  assert.equal(out1.bfid, f1Bfid);
  W = out1.volume;
  assert.notEqual(W, V);
  const transfers = (await api<Transfer[]>('GET', '/transfers?library=lto9&limit=10000')).filter((t) => t.requestId === req.id);
  assert.deepEqual(transfers.map((t) => [t.mover, t.ok, t.errorCode]), [['drive-2', false, 'DRIVE_ERROR'], ['drive-3', true, null]]);

  // V: end-of-data right after its last registered file, the dead write's bytes belong to nobody.
  await mover('drive-2'); // a restarted mover puts the cartridge left in its bay home
  const v = await cliJson<{ eodFileNo: number; activeFiles: number }>(['volume', 'info', V]);
  const onV = await api<{ fileNo: number }[]>('GET', `/volumes/${V}/files`);
  assert.deepEqual(onV.map((f) => f.fileNo), [1]);
  assert.equal(v.eodFileNo, 2);

  // The next write of the family lands on V (W made read-only for it) right after file 1, over the dead write's remains.
  await api('POST', `/volumes/${W}/inhibits`, { kind: 'user', field: 'state', value: 'readonly' });
  const f2 = await localFile('f2.dat', 300_000);
  const w2 = await encp(['--json', f2, '/exp/p/f2.dat'], env);
  assert.equal(w2.code, 0, w2.stderr);
  const out2 = JSON.parse(w2.stdout) as { volume: string; fileNo: number };
  assert.deepEqual([out2.volume, out2.fileNo], [V, 2]);
  await api('DELETE', `/volumes/${W}/inhibits?kind=user`);
  assert.equal((await api<{ eodFileNo: number }>('GET', `/volumes/${V}`)).eodFileNo, 3);

  const back = path.join(work, 'back-a');
  await fs.mkdir(back);
  const r = await encp(['/exp/p/f0.dat', '/exp/p/f2.dat', back], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await sha(path.join(back, 'f0.dat')), await sha(f0));
  assert.equal(await sha(path.join(back, 'f2.dat')), await sha(f2));
});

test('(b) a mover killed mid-read: the read is served by another mover, byte-identical', async () => {
  const f1 = path.join(work, 'f1.dat');
  // Only drive-3 (which holds W) may take the read first.
  await moverState('drive-2', 'offline');
  const out = path.join(work, 'f1.back');
  const rd = encpInBackground(['--json', '/exp/p/f1.dat', out], env);
  const req = await atMover(f1Bfid, 'read');
  assert.equal(req.mover, 'drive-3');
  await new Promise((r) => setTimeout(r, 2000));
  await killMover('drive-3');
  await waitFor('the read re-queued', async () => (await queue()).find((r) => r.id === req.id && r.state === 'queued'));
  // drive-3 comes back offline (so the tape it held goes home and stays free); drive-2 takes the read.
  await moverState('drive-3', 'offline');
  await mover('drive-3');
  await moverState('drive-2', 'online');
  const r = await rd.result;
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { mover: string }).mover, 'drive-2');
  assert.equal(await sha(out), await sha(f1));
  const transfers = (await api<Transfer[]>('GET', '/transfers?library=lto9&limit=10000')).filter((t) => t.requestId === req.id);
  assert.deepEqual(transfers.map((t) => [t.mover, t.ok, t.errorCode]), [['drive-3', false, 'DRIVE_ERROR'], ['drive-2', true, null]]);
  await moverState('drive-3', 'online');
});

test('(d) tapestry start SIGKILLed and restarted under load: the writes in flight finish once, their encp never notices', async () => {
  // 14 MB (14 s): still being written when the restarted library manager is up, so the movers claim them in their Hello.
  const files = await Promise.all([1, 2].map((i) => localFile(`d${i}.dat`, 14_000_000)));
  // Two families, so both are written at once (one on each drive).
  const runs = files.map((f, i) => encpInBackground(['--json', '--file-family', `d${i + 1}`, f, `/exp/p/d${i + 1}.dat`], env));
  const bfids = await Promise.all([1, 2].map((i) => waitFor(`the file entry of d${i}`, async () => (await fileInfo(`/exp/p/d${i}.dat`)).bfid)));
  const reqs = await Promise.all(bfids.map((b) => atMover(b, 'write')));
  assert.deepEqual(new Set(reqs.map((r) => r.mover)), new Set(['drive-2', 'drive-3']));
  await new Promise((r) => setTimeout(r, 500));
  // The process only (its embedded PostgreSQL lives on and is adopted by the next start).
  await crashAndRestart();
  for (const [i, run] of runs.entries()) {
    const r = await run.result;
    assert.equal(r.code, 0, `d${i + 1}: ${r.stderr}`);
    assert.equal((JSON.parse(r.stdout) as { bfid: string }).bfid, bfids[i]);
  }
  // The new leader adopted both (the movers claimed them in their Hello, then re-sent their WorkDone): one transfer each, both done.
  for (const req of reqs) {
    await waitFor(`request ${req.id} done`, async () => ((await queue()).some((r) => r.id === req.id) ? undefined : true));
    const transfers = (await api<Transfer[]>('GET', '/transfers?library=lto9&limit=10000')).filter((t) => t.requestId === req.id);
    assert.deepEqual(transfers.map((t) => [t.mover, t.ok]), [[req.mover, true]]);
  }
  for (const i of [1, 2]) assert.equal((await cliJson<FileInfo>(['file', 'info', `/exp/p/d${i}.dat`])).state, 'active');
  const back = path.join(work, 'back-d');
  await fs.mkdir(back);
  const r = await encp(['/exp/p/d1.dat', '/exp/p/d2.dat', back], env);
  assert.equal(r.code, 0, r.stderr);
  for (const [i, f] of files.entries()) assert.equal(await sha(path.join(back, `d${i + 1}.dat`)), await sha(f));
});

test('(c) tapestry start SIGKILLed with 1,000 queued requests: all still there after the restart, same priorities, none twice; the waiting encp finish', async () => {
  await api('POST', '/libraries/lto9/state', { state: 'pause' });
  // Three real encp clients among them, waiting for the library to resume.
  const real = await Promise.all([1, 2, 3].map((i) => localFile(`c${i}.dat`, 20_000 + i)));
  const encps = real.map((f, i) => encpInBackground(['--json', f, `/exp/q/c${i + 1}.dat`], env));
  const submitted: { id: number; priority: number }[] = [];
  await eachLimit(Array.from({ length: 997 }, (_, i) => i), 8, async (i) => {
    const t = await api<{ requestId: number }>('POST', '/requests', { kind: 'write', uniqueId: `crash-test-${i}`, path: `/exp/q/r${i}.dat`, size: 1000, priority: i % 5 });
    submitted.push({ id: t.requestId, priority: i % 5 });
  });
  const queuedBefore = await waitFor('1,000 queued', async () => {
    const q = (await queue()).filter((r) => r.state === 'queued');
    return q.length === 1000 ? q : undefined;
  });

  await crashAndRestart();

  const afterRestart = (await queue()).filter((r) => r.state === 'queued');
  assert.equal(afterRestart.length, 1000);
  const byId = (rows: readonly QueueRow[]): [number, number, string | null][] => rows.map((r) => [r.id, r.priority, r.bfid] as [number, number, string | null]).sort((a, b) => a[0] - b[0]);
  assert.deepEqual(byId(afterRestart), byId(queuedBefore), 'the same requests with the same priorities');
  assert.equal(new Set(afterRestart.map((r) => r.bfid)).size, 1000, 'no file queued twice');
  for (const s of submitted) assert.equal(afterRestart.find((r) => r.id === s.id)?.priority, s.priority);

  // The REST-submitted ones have no client to send data: cancel them; then resume, and the encp clients finish.
  await eachLimit(submitted, 8, async (s) => {
    await api('POST', `/requests/${s.id}/cancel`, { by: 'test', reason: 'no client' });
  });
  await api('POST', '/libraries/lto9/state', { state: 'unlocked' });
  for (const [i, e] of encps.entries()) {
    const r = await e.result;
    assert.equal(r.code, 0, `c${i + 1}: ${r.stderr}`);
    assert.equal((await fileInfo(`/exp/q/c${i + 1}.dat`)).state, 'active');
  }
  const q = await queue();
  assert.deepEqual(q, [], 'nothing left open');
  const ids = new Set(submitted.map((s) => s.id));
  const transfers = (await api<Transfer[]>('GET', '/transfers?library=lto9&limit=10000')).filter((t) => ids.has(t.requestId));
  assert.deepEqual(transfers, [], 'no cancelled request ever reached a mover');
});
