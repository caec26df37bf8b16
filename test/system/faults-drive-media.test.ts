import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ENCP_BIN, encp, tapestry, type CliResult, type RunningTapestry } from '../helpers/cli.ts';
import { withSystem } from '../helpers/system-fixture.ts';

/**
 * Drive and media errors end to end (issue 5 items 1 and 6,
 * docs/faults-drive-media.md): simulator faults on drives and cartridges,
 * driven through encp → library manager → mover → drive and back. One
 * system for the file, every written file re-read by its mover
 * (`faults.reread_one_in: 1`); the thresholds are the defaults. Each case
 * starts from an idle library with every mover online and its failure
 * counts reset. The cases run in order: the two NOACCESS cases make the
 * NOACCESS storm.
 */
let sys: RunningTapestry;
let env: NodeJS.ProcessEnv;
let work: string;

withSystem({
  timeScale: 0.001,
  replace: [
    [/^    capacity: 18TB/m, '    capacity: 64MB'],
    [/^    block_size: 256KiB/m, '    block_size: 64KiB'],
    [/^    dismount_delay: 60s/m, '    dismount_delay: 1s'],
    [/^    mount_max_age: 2s/m, '    mount_max_age: 0s\n    faults:\n      reread_one_in: 1'],
  ],
}, (s) => {
  ({ sys, env, work } = s);
});

interface Transfer { requestId: number; bfid: string | null; direction: string; volume: string | null; mover: string; drive: string; ok: boolean | null; errorCode: string | null }
interface Summary { ok: boolean; bfid?: string; volume?: string; fileNo?: number; mover?: string; size?: number; error?: { code: string; message: string } }
interface Alarm { id: number; key: string; code: string; message: string; detail: Record<string, unknown>; resolvedAt: string | null }
interface Queue { state: string; movers: { name: string; state: string; volume: string | null }[]; requests: { id: number; kind: string; state: string }[] }
interface MoverLine { name: string; adminState: string; state: string; volume: string | null; consecutiveFailures: number }
interface Volume { label: string; systemInhibit: { access: string; state: string }; remainingBytes: number; capacityBytes: number; eodFileNo: number | null }
interface History { kind: string; value: string | null; actor: string; reason: string | null }

const DRIVES = ['drive-1', 'drive-2', 'drive-3', 'drive-4'];

async function get<T>(p: string): Promise<T> {
  const res = await fetch(`${sys.url}/api/v1${p}`);
  assert.equal(res.status, 200, `GET ${p}: ${res.status}`);
  return (await res.json()) as T;
}

/** Set-up and inspection go through the REST API (a CLI start costs seconds on a busy machine); the commands under test go through the CLI. */
async function call<T>(method: 'POST' | 'PUT', p: string, body: unknown): Promise<T> {
  const res = await fetch(`${sys.url}/api/v1${p}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.ok(res.status >= 200 && res.status < 300, `${method} ${p}: ${res.status} ${await res.clone().text()}`);
  return (await res.json()) as T;
}

async function moverState(name: string, state: 'online' | 'offline'): Promise<void> {
  await call('POST', `/movers/${name}/state`, { state });
}

async function driveFault(drive: string, kind: string): Promise<void> {
  await call('POST', `/sim/drives/${drive}/faults`, { kind });
}

async function cartridgeFault(label: string, body: Record<string, unknown>): Promise<void> {
  await call('POST', `/sim/cartridges/${label}/faults`, body);
}

async function cli(args: string[]): Promise<string> {
  const r = await tapestry(args, env);
  assert.equal(r.code, 0, `tapestry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Poll until `check` returns a value (not undefined); the timeout is generous, nothing asserts on time. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every mover online with fresh counts, every drive empty and idle, nothing queued, no drive fault pending. */
async function idle(): Promise<void> {
  for (const d of DRIVES) await moverState(d, 'online');
  await until('an idle library', async () => {
    const q = await get<Queue>('/libraries/lto9/queue');
    const inv = await get<{ drives: { label: string | null }[] }>('/libraries/lto9');
    const faults = await get<{ drives: Record<string, { pending: unknown[] }> }>('/sim/faults');
    const quiet = q.requests.length === 0 && q.movers.length === 4 && q.movers.every((m) => m.state === 'idle') && inv.drives.every((d) => d.label === null);
    return quiet && Object.values(faults.drives).every((d) => d.pending.length === 0) ? true : undefined;
  });
}

let n = 0;
async function localFile(size = 200_000): Promise<string> {
  const f = path.join(work, `f${++n}.dat`);
  await fs.writeFile(f, randomBytes(size));
  return f;
}

function summary(r: CliResult): Summary {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  assert.ok(line.startsWith('{'), `encp printed no summary: ${r.stdout} ${r.stderr}`);
  return JSON.parse(line) as Summary;
}

async function write(dst: string, extra: string[] = [], src?: string): Promise<{ r: CliResult; s: Summary; src: string }> {
  const from = src ?? (await localFile());
  const r = await encp(['--json', ...extra, from, dst], env);
  return { r, s: summary(r), src: from };
}

async function read(src: string, dst: string): Promise<{ r: CliResult; s: Summary }> {
  const r = await encp(['--json', src, dst], env);
  return { r, s: summary(r) };
}

function ok({ r, s }: { r: CliResult; s: Summary }): Summary {
  assert.equal(r.code, 0, `encp failed: ${r.stderr} ${JSON.stringify(s)}`);
  assert.equal(s.ok, true);
  return s;
}

function failed({ r, s }: { r: CliResult; s: Summary }, code: string): void {
  assert.equal(r.code, 1, `encp should fail ${code}: ${r.stdout} ${r.stderr}`);
  assert.equal(s.ok, false);
  assert.equal(s.error?.code, code, JSON.stringify(s.error));
}

/** encp started in the background (its process is ours: waited for by the test). */
function encpInBackground(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENCP_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function transfers(): Promise<Transfer[]> {
  return get<Transfer[]>('/transfers?library=lto9');
}

async function transfersOf(bfid: string): Promise<Transfer[]> {
  return (await transfers()).filter((t) => t.bfid === bfid);
}

async function fileInfo(p: string): Promise<{ bfid: string; state: string; volume: string; fileNo: number }> {
  return get<{ bfid: string; state: string; volume: string; fileNo: number }>(`/files/info?path=${encodeURIComponent(p)}`);
}

/** The file is active in the catalogue at the place encp was told. */
async function onTape(dst: string, s: Summary): Promise<void> {
  const info = await fileInfo(dst);
  assert.deepEqual({ bfid: info.bfid, state: info.state, volume: info.volume, fileNo: info.fileNo }, { bfid: s.bfid, state: 'active', volume: s.volume, fileNo: s.fileNo });
}

async function volume(label: string): Promise<Volume> {
  return get<Volume>(`/volumes/${label}`);
}

async function history(label: string): Promise<History[]> {
  return get<History[]>(`/volumes/${label}/history`);
}

async function openAlarm(key: string): Promise<Alarm | undefined> {
  return (await get<Alarm[]>('/alarms')).find((a) => a.key === key);
}

async function movers(): Promise<MoverLine[]> {
  return get<MoverLine[]>('/movers');
}

async function suspects(): Promise<{ volume: string; mover: string; errorCode: string }[]> {
  return get<{ volume: string; mover: string; errorCode: string }[]>('/libraries/lto9/suspects');
}

/** A directory whose files go to a family of their own: its first file starts a blank volume (file 1 = records 2.., after VOL1 and its filemark). */
async function family(name: string): Promise<string> {
  await call('POST', '/namespace/dirs', { path: `/faults/${name}`, parents: true });
  await call('PUT', `/namespace/tags/file_family?path=${encodeURIComponent(`/faults/${name}`)}`, { value: name });
  return `/faults/${name}`;
}

test('a write failing on drive-1 is retried on another drive; (volume, drive-1) is suspect', { timeout: 120_000 }, async () => {
  await idle();
  const dir = await family('retry');
  // Only drive-1 takes the first attempt.
  for (const d of ['drive-2', 'drive-3', 'drive-4']) await moverState(d, 'offline');
  await driveFault('drive-1', 'fail-next-write');
  const src = await localFile();
  const pending = encpInBackground(['--json', src, `${dir}/a.dat`]);
  const first = await until('the failed attempt on drive-1', async () => (await transfers()).find((t) => t.mover === 'drive-1' && t.ok === false && t.errorCode === 'MEDIA_ERROR'));
  // drive-1 is not given the retry: the other movers are connected (offline), the request waits for one.
  const q = await until('the request back in the queue', async () => {
    const x = await get<Queue>('/libraries/lto9/queue');
    return x.requests.every((r) => r.state === 'queued') ? x : undefined;
  });
  assert.deepEqual(q.requests.map((r) => [r.id, r.state]), [[first.requestId, 'queued']]);
  for (const d of ['drive-2', 'drive-3', 'drive-4']) await moverState(d, 'online');
  const r = await pending;
  const s = ok({ r, s: summary(r) });
  await onTape(`${dir}/a.dat`, s);
  const t = await transfersOf(s.bfid!);
  assert.equal(t.length, 2, JSON.stringify(t));
  assert.deepEqual([t[0]!.mover, t[0]!.ok, t[0]!.errorCode], ['drive-1', false, 'MEDIA_ERROR']);
  assert.equal(t[1]!.ok, true);
  assert.notEqual(t[1]!.mover, 'drive-1');
  assert.equal(s.mover, t[1]!.mover);
  const listed = JSON.parse(await cli(['library', 'suspects', 'lto9', '--json'])) as { volume: string; mover: string; errorCode: string }[];
  assert.deepEqual(listed.map((p) => [p.volume, p.mover, p.errorCode]), [[first.volume, 'drive-1', 'MEDIA_ERROR']]);
  assert.equal((JSON.parse(await cli(['mover', 'list', '--json'])) as MoverLine[]).find((m) => m.name === 'drive-1')!.consecutiveFailures, 1);
  // `mover online` forgets drive-1's pairs and counts.
  await cli(['mover', 'online', 'drive-1']);
  assert.deepEqual(await suspects(), []);
  assert.equal((await movers()).find((m) => m.name === 'drive-1')!.consecutiveFailures, 0);
});

/** Write two files to a fresh volume of `name` and make every drive fail reading both (a corrupt block each). */
async function badVolume(name: string): Promise<{ dir: string; label: string }> {
  const dir = await family(name);
  const a = ok(await write(`${dir}/1.dat`));
  const b = ok(await write(`${dir}/2.dat`));
  assert.equal(a.volume, b.volume);
  assert.deepEqual([a.fileNo, b.fileNo], [1, 2]);
  await idle();
  // 200,000 bytes in 64 KiB blocks: 4 records + a filemark per file. Record 3 and 8 are data of files 1 and 2.
  await cartridgeFault(a.volume!, { kind: 'corrupt-record', record: 3 });
  await cartridgeFault(a.volume!, { kind: 'corrupt-record', record: 8 });
  return { dir, label: a.volume! };
}

test('three drives failing on one volume: NOACCESS with a history row and an alarm; its queued read fails NOACCESS', { timeout: 120_000 }, async () => {
  await idle();
  const { dir, label } = await badVolume('noaccess1');
  const out = path.join(work, 'noaccess1');
  await fs.mkdir(out);
  const [r1, r2] = await Promise.all([read(`${dir}/1.dat`, path.join(out, '1')), read(`${dir}/2.dat`, path.join(out, '2'))]);
  failed(r1, 'NOACCESS');
  failed(r2, 'NOACCESS');
  await assert.rejects(fs.stat(path.join(out, '1')), 'no output for a failed read');
  await assert.rejects(fs.stat(path.join(out, '2')));
  // Exactly three attempts, by three different movers, each a media error.
  const t = (await transfers()).filter((x) => x.volume === label && x.direction === 'read');
  assert.equal(t.length, 3, JSON.stringify(t));
  assert.ok(t.every((x) => x.ok === false && x.errorCode === 'MEDIA_ERROR'));
  assert.equal(new Set(t.map((x) => x.mover)).size, 3);
  const v = await volume(label);
  assert.equal(v.systemInhibit.access, 'NOACCESS');
  const h = (await history(label)).filter((e) => e.kind === 'system_inhibit_access');
  assert.deepEqual(h.map((e) => [e.value, e.actor]), [['NOACCESS', 'library-manager']]);
  const alarm = await openAlarm(`NOACCESS:${label}`);
  assert.ok(alarm, 'an alarm keyed by the volume');
  assert.equal(alarm.code, 'NOACCESS');
  assert.deepEqual((alarm.detail.movers as string[]).sort(), [...new Set(t.map((x) => x.mover))].sort());
  // New reads of it are refused at once; the library is not broken by one volume.
  failed(await read(`${dir}/1.dat`, path.join(out, '1')), 'NOACCESS');
  assert.equal((await get<Queue>('/libraries/lto9/queue')).state, 'unlocked');
});

test('a second volume NOACCESS within 5 minutes: the library is broken (encp refused BROKEN) until `library reset`', { timeout: 120_000 }, async () => {
  await idle();
  const { dir, label } = await badVolume('noaccess2');
  const out = path.join(work, 'noaccess2');
  await fs.mkdir(out);
  failed(await read(`${dir}/1.dat`, path.join(out, '1')), 'NOACCESS');
  assert.equal((await volume(label)).systemInhibit.access, 'NOACCESS');
  const q = await get<Queue>('/libraries/lto9/queue');
  assert.equal(q.state, 'broken');
  const alarm = await openAlarm('BROKEN:lto9');
  assert.ok(alarm);
  assert.equal(alarm.code, 'BROKEN');
  const refused = await write('/faults/retry/refused.dat');
  failed(refused, 'BROKEN');
  const reset = JSON.parse(await cli(['library', 'reset', 'lto9', '--json'])) as { previous: string; state: string };
  assert.deepEqual(reset, { library: 'lto9', previous: 'broken', state: 'unlocked' });
  assert.equal(await openAlarm('BROKEN:lto9'), undefined, 'the alarm is resolved');
  await onTape('/faults/retry/after-reset.dat', ok(await write('/faults/retry/after-reset.dat')));
});

test('a mover with 2 failures in a row and 3 within the hour goes offline after dismounting; `mover online` brings it back', { timeout: 120_000 }, async () => {
  await idle();
  const dir = await family('offline');
  for (const d of ['drive-1', 'drive-3', 'drive-4']) await moverState(d, 'offline');
  await driveFault('drive-2', 'fail-next-write');
  failed(await write(`${dir}/1.dat`, ['--max-retry', '0']), 'TOO_MANY_RETRIES');
  // A success resets the count in a row (not the hour's).
  ok(await write(`${dir}/2.dat`));
  // encp has its result before the library manager has recorded the mover's
  // WorkDone, so the reset is awaited (a count that never drops times out).
  const reset = await until('drive-2 to count 0 failures in a row after its success', async () => {
    const m = (await movers()).find((x) => x.name === 'drive-2')!;
    return m.consecutiveFailures === 0 ? m : undefined;
  }, 30_000);
  assert.equal(reset.adminState, 'online');
  await driveFault('drive-2', 'fail-next-write');
  failed(await write(`${dir}/3.dat`, ['--max-retry', '0']), 'TOO_MANY_RETRIES');
  let m2 = (await movers()).find((m) => m.name === 'drive-2')!;
  assert.deepEqual([m2.adminState, m2.consecutiveFailures], ['online', 1], '2 in the hour, 1 in a row');
  await driveFault('drive-2', 'fail-next-write');
  failed(await write(`${dir}/4.dat`, ['--max-retry', '0']), 'TOO_MANY_RETRIES');
  m2 = await until('drive-2 offline with its tape dismounted', async () => {
    const m = (await movers()).find((x) => x.name === 'drive-2')!;
    return m.adminState === 'offline' && m.volume === null && m.state === 'idle' ? m : undefined;
  });
  assert.equal(m2.consecutiveFailures, 2);
  const alarm = await openAlarm('MOVER_OFFLINE:drive-2');
  assert.ok(alarm);
  assert.match(alarm.message, /2 failures in a row, 3 within 60 min/);
  await cli(['mover', 'online', 'drive-2']);
  m2 = (await movers()).find((m) => m.name === 'drive-2')!;
  assert.deepEqual([m2.adminState, m2.consecutiveFailures], ['online', 0]);
  assert.equal(await openAlarm('MOVER_OFFLINE:drive-2'), undefined);
  const s = ok(await write(`${dir}/5.dat`));
  assert.equal(s.mover, 'drive-2');
});

test('early end of tape: the volume is full, the write goes to another volume without spending a retry', { timeout: 120_000 }, async () => {
  await idle();
  const dir = await family('eot');
  const first = ok(await write(`${dir}/1.dat`));
  const v = await volume(first.volume!);
  // Room for less than the next file.
  await cartridgeFault(v.label, { kind: 'early-eot', bytes: v.capacityBytes - v.remainingBytes + 100_000 });
  const s = ok(await write(`${dir}/2.dat`, ['--max-retry', '0']));
  assert.notEqual(s.volume, v.label);
  await onTape(`${dir}/2.dat`, s);
  const t = await transfersOf(s.bfid!);
  assert.deepEqual(t.map((x) => [x.volume, x.ok, x.errorCode]), [[v.label, false, 'END_OF_TAPE'], [s.volume, true, null]]);
  const after = await volume(v.label);
  assert.equal(after.systemInhibit.state, 'full');
  assert.equal(after.eodFileNo, 2, 'end-of-data still after file 1');
  assert.deepEqual((await history(v.label)).filter((e) => e.kind === 'system_inhibit_state').map((e) => [e.value, e.actor]), [['full', 'library-manager']]);
  // Nobody's fault: no suspect pair, no failure counted.
  assert.deepEqual(await suspects(), []);
  assert.ok((await movers()).every((m) => m.consecutiveFailures === 0));
});

test('re-read after write finds a silently corrupted block: volume readonly, alarm, the file written elsewhere and read back intact', { timeout: 120_000 }, async () => {
  await idle();
  const dir = await family('crc');
  const first = ok(await write(`${dir}/1.dat`, ['--delayed-dismount', '1']));
  const label = first.volume!;
  // The tape stays in first.mover's drive; the next write of the family goes there, and that drive corrupts it.
  await driveFault(first.mover!, 'corrupt-next-write');
  const { r, s, src } = await write(`${dir}/2.dat`);
  ok({ r, s });
  assert.notEqual(s.volume, label);
  assert.notEqual(s.mover, first.mover);
  await onTape(`${dir}/2.dat`, s);
  const t = await transfersOf(s.bfid!);
  assert.deepEqual(t.map((x) => [x.mover, x.volume, x.ok, x.errorCode]), [[first.mover, label, false, 'CRC_MISMATCH'], [s.mover, s.volume, true, null]]);
  const v = await volume(label);
  assert.equal(v.systemInhibit.state, 'readonly');
  assert.equal(v.eodFileNo, 2, 'the corrupted copy is past end-of-data: never registered');
  const alarm = await openAlarm(`READONLY:${label}`);
  assert.ok(alarm);
  assert.equal(alarm.code, 'CRC_MISMATCH');
  // What was written elsewhere reads back byte for byte.
  const back = path.join(work, 'crc-back.dat');
  ok(await read(`${dir}/2.dat`, back));
  assert.deepEqual(await fs.readFile(back), await fs.readFile(src));
  // A readonly volume still reads.
  ok(await read(`${dir}/1.dat`, path.join(work, 'crc-1.dat')));
});

test('a CRC mismatch on read never delivers data: no output file, CRC_MISMATCH', { timeout: 120_000 }, async () => {
  await idle();
  const dir = await family('readcrc');
  const s = ok(await write(`${dir}/1.dat`));
  await idle();
  // Wrong bytes with a good block crc: only the end-to-end adler32 notices.
  await cartridgeFault(s.volume!, { kind: 'corrupt-record-silently', record: 3 });
  const out = path.join(work, 'readcrc.dat');
  failed(await read(`${dir}/1.dat`, out), 'CRC_MISMATCH');
  await assert.rejects(fs.stat(out), 'the output file does not exist');
});
