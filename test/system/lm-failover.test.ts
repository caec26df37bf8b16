import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { encp, startTapestry, type RunningTapestry } from '../helpers/cli.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { encpInBackground, startMover, startProc, waitFor, type Proc } from '../helpers/processes.ts';
import { makeTestInstallation, type TestInstallation } from '../helpers/system-config.ts';

/**
 * Library-manager fail-over (issue 5 item 4, docs/faults-process.md): the
 * database is the bus, leadership is a PostgreSQL advisory lock. Everything
 * shares one external PostgreSQL (as in production), so a standalone library
 * manager (`tapestry start --component library-manager`) can start first and
 * lead, with `tapestry start`'s own manager standing by. Killing the leader
 * hands the library over within about a second; the movers (remote, their
 * own processes) reconnect and claim what they were doing.
 */
let pgt: TestPostgres;
let db: pg.Pool;
let inst: TestInstallation;
let sys: RunningTapestry;
let env: NodeJS.ProcessEnv;
let work: string;
const procs: Proc[] = [];

before(async () => {
  pgt = await startTestPostgres();
  const url = await pgt.database();
  db = new pg.Pool({ connectionString: url, max: 2 });
  inst = await makeTestInstallation({
    replace: [
      [/^  - name: drive-1\n    library: lto9\n    element: 1 .*\n/m, ''],
      [/^    element: 2$/m, '    element: 2\n    mover: remote'],
      [/^    element: 3$/m, '    element: 3\n    mover: remote'],
      [/^  - name: drive-4\n    library: lto9\n    element: 4\n/m, ''],
      // 2 kB/s at time scale 0.001: 2 MB/s of real time, so a 24 MB write takes 12 s.
      [/^    rate: 400MB\/s.*$/m, '    rate: 2kB/s'],
    ],
  });
  env = { TAPESTRY_DATABASE_URL: url };
  work = path.join(inst.dir, 'work');
  await fs.mkdir(work);
});

after(async () => {
  for (const p of procs) await p.kill('SIGINT');
  await sys?.stop('SIGINT');
  await db?.end();
  await pgt?.stop();
  await inst?.remove();
});

const lmArgs = (): string[] => ['start', '--component', 'library-manager', '--config', inst.configFile];
const leaderAddress = async (): Promise<string | null> => (await db.query<{ lm_address: string | null }>(`SELECT lm_address FROM libraries WHERE name = 'lto9'`)).rows[0]?.lm_address ?? null;
async function rest(method: 'GET' | 'POST' | 'PUT', route: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${sys.url}/api/v1${route}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route}: HTTP ${res.status} ${text}`);
  return JSON.parse(text);
}

const sha = async (f: string): Promise<string> => createHash('sha256').update(await fs.readFile(f)).digest('hex');

async function localFile(name: string, size: number): Promise<string> {
  const f = path.join(work, name);
  await fs.writeFile(f, randomBytes(size));
  return f;
}

test('the leading library manager is SIGKILLed mid-write: the standby takes over, the movers reconnect, every write finishes once', async () => {
  // 1. A standalone library manager starts first and leads; tapestry start's own stands by.
  const first = await startProc(lmArgs(), env, /library manager running/);
  procs.push(first);
  assert.match(first.output(), /lto9: leader on 127\.0\.0\.1:\d+/);
  const firstAddress = await leaderAddress();
  sys = await startTapestry(inst.configFile, env);
  const api = { TAPESTRY_URL: sys.url, ...env };
  assert.equal(await leaderAddress(), firstAddress, 'tapestry start did not take the library over');
  // Set-up through the REST API: on a busy 2-core machine each CLI run costs seconds.
  await rest('POST', '/namespace/dirs', { path: '/exp/f', parents: true });
  await rest('PUT', `/namespace/tags/file_family?path=${encodeURIComponent('/exp/f')}`, { value: 'ff' });
  for (const drive of ['drive-2', 'drive-3']) procs.push(await startMover(inst.configFile, drive, api));

  // 2. drive-3 offline: the big write (24 MB, 12 s) runs on drive-2 and the small ones (another family) stay queued.
  await rest('POST', '/movers/drive-3/state', { state: 'offline' });
  await rest('POST', '/namespace/dirs', { path: '/exp/g', parents: true });
  await rest('PUT', `/namespace/tags/file_family?path=${encodeURIComponent('/exp/g')}`, { value: 'gg' });
  const big = await localFile('big.dat', 24_000_000);
  const smalls = await Promise.all([1, 2, 3].map((i) => localFile(`s${i}.dat`, 50_000 * i)));
  const wBig = encpInBackground(['--json', big, '/exp/f/big.dat'], api);
  const bigReq = await waitFor('the big write at drive-2', async () => {
    const { rows } = await db.query<{ id: number; mover: string | null; token: string | null }>(
      `SELECT r.id, r.mover, r.token FROM requests r JOIN files f ON f.bfid = r.bfid WHERE f.ns_path = '/exp/f/big.dat' AND r.state IN ('assigned', 'active')`,
    );
    return rows[0]?.token ? rows[0] : undefined;
  });
  assert.equal(bigReq.mover, 'drive-2');
  const wSmall = encpInBackground(['--json', ...smalls, '/exp/g'], api);
  await waitFor('three small writes queued', async () => {
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM requests WHERE state = 'queued' AND kind = 'write'`);
    return rows[0]!.n === 3 ? true : undefined;
  });
  await new Promise((r) => setTimeout(r, 500)); // into the write (it takes 12 s)

  // 3. Kill the leader. tapestry start's standby takes over; measure how long the library had no leader.
  const killedAt = Date.now();
  await first.kill('SIGKILL');
  const newAddress = await waitFor('a new leader', async () => {
    const a = await leaderAddress();
    return a !== firstAddress ? a : undefined;
  }, 30_000, 50);
  const takeoverMs = Date.now() - killedAt;
  process.stderr.write(`# take-over: the standby published ${newAddress} ${takeoverMs} ms after the leader was killed\n`);
  assert.ok(newAddress);

  // 4. The in-flight write was adopted (drive-2 claimed it in its Hello), not re-queued; the queued ones run once drive-3 is back.
  await rest('POST', '/movers/drive-3/state', { state: 'online' });
  const rb = await wBig.result;
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal((JSON.parse(rb.stdout) as { mover: string }).mover, 'drive-2');
  const rs = await wSmall.result;
  assert.equal(rs.code, 0, rs.stderr);
  assert.equal(rs.stdout.trim().split('\n').length, 3);

  // 5. Nothing twice: one files row per path, one transfers row per request, all ok; the big one without a retry.
  const { rows: files } = await db.query<{ ns_path: string; state: string; n: number }>(
    `SELECT ns_path, state, count(*) OVER (PARTITION BY ns_path)::int AS n FROM files WHERE ns_path LIKE '/exp/%' ORDER BY ns_path`,
  );
  assert.deepEqual(files.map((f) => [f.ns_path, f.state, f.n]), [
    ['/exp/f/big.dat', 'active', 1], ['/exp/g/s1.dat', 'active', 1], ['/exp/g/s2.dat', 'active', 1], ['/exp/g/s3.dat', 'active', 1],
  ]);
  // The new leader adopted it from drive-2's Hello (it was never re-queued).
  const log = await fs.readFile(path.join(inst.dir, 'var', 'log', 'tapestry.log'), 'utf8');
  const adopted = log.split('\n').filter((l) => l.includes('"event":"lm.adopted"')).map((l) => JSON.parse(l) as { mover: string; requestId: number });
  assert.deepEqual(adopted.map((a) => [a.mover, a.requestId]), [['drive-2', bigReq.id]]);
  const { rows: transfers } = await db.query<{ request_id: number; ok: boolean; mover: string; n: number }>(
    `SELECT request_id, ok, mover, count(*) OVER (PARTITION BY request_id)::int AS n FROM transfers ORDER BY id`,
  );
  assert.equal(transfers.length, 4);
  assert.ok(transfers.every((t) => t.ok && t.n === 1), JSON.stringify(transfers));
  assert.deepEqual(transfers.filter((t) => t.request_id === bigReq.id).map((t) => t.mover), ['drive-2']);
  const { rows: reqs } = await db.query<{ state: string; attempts: number }>(`SELECT state, attempts FROM requests WHERE id = $1`, [bigReq.id]);
  assert.deepEqual(reqs[0], { state: 'done', attempts: 1 });

  const back = path.join(work, 'big.back');
  const r = await encp(['/exp/f/big.dat', back], api);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await sha(back), await sha(big));
});

test('a leader whose lock session is cut stops leading at once; a standby takes over and the next write finishes', async () => {
  const api = { TAPESTRY_URL: sys.url, ...env };
  // A second standalone manager stands by beside tapestry start's leader.
  const standby = await startProc(lmArgs(), env, /library manager running/);
  procs.push(standby);
  assert.match(standby.output(), /lto9: standby/);
  const before = await leaderAddress();
  // Cut the leader's lock session from the server side (a network partition, an admin's pg_terminate_backend).
  const { rows } = await db.query<{ ok: boolean }>(
    `SELECT pg_terminate_backend(pid) AS ok FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND granted`,
    [0x7a9e_5702],
  );
  assert.deepEqual(rows, [{ ok: true }]);
  const after = await waitFor('leadership to move', async () => {
    const a = await leaderAddress();
    return a !== before ? a : undefined;
  }, 30_000, 50);
  assert.ok(after);
  // Exactly one session holds the lock again.
  const held = await db.query(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND granted`, [0x7a9e_5702]);
  assert.equal(held.rowCount, 1);
  const f = await localFile('after.dat', 200_000);
  const w = await encp(['--json', f, '/exp/f/after.dat'], api);
  assert.equal(w.code, 0, w.stderr);
  const back = path.join(work, 'after.back');
  const r = await encp(['/exp/f/after.dat', back], api);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await sha(back), await sha(f));
});
