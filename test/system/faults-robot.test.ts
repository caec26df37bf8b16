import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { encp, tapestry, type CliResult, type RunningTapestry } from '../helpers/cli.ts';
import { withSystem } from '../helpers/system-fixture.ts';

/**
 * Robot error handling end to end (issue 5 item 2): every error class of the
 * simulated robot, injected with `tapestry sim fault robot`, driven through
 * encp → library manager → mover → media changer → robot and back. One
 * system for the file; each case starts from an idle library (every drive
 * empty, nothing queued, no robot fault pending).
 *
 * Robot settings: 3 retries, retry_delay 20s × time scale 0.001 = 20 ms
 * (RELEASE_RETRY waits 10×), and a real 1 s command timeout for dropped replies.
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
    [/^    command_timeout: 15min/m, '    command_timeout: 1s'],
    [/^    retry_delay: 60s/m, '    retry_delay: 20s'],
    [/^    mount_max_age: 2s/m, '    mount_max_age: 0s'],
  ],
}, (s) => {
  ({ sys, env, work } = s);
});

interface Transfer { requestId: number; bfid: string | null; direction: string; volume: string | null; mover: string; drive: string; ok: boolean | null; errorCode: string | null }
interface Summary { ok: boolean; bfid?: string; volume?: string; fileNo?: number; mover?: string; size?: number; error?: { code: string; message: string } }
interface Alarm { id: number; key: string; code: string; message: string; detail: Record<string, unknown>; resolvedAt: string | null; resolvedBy: string | null }
interface Queue { state: string; movers: { name: string; state: string; volume: string | null }[]; requests: { id: number; kind: string; state: string; attempts: number; lastError: string | null }[] }

const ROBOT = 'robot-1';
const DRIVES = ['drive-1', 'drive-2', 'drive-3', 'drive-4'];

async function get<T>(p: string): Promise<T> {
  const res = await fetch(`${sys.url}/api/v1${p}`);
  assert.equal(res.status, 200, `GET ${p}: ${res.status}`);
  return (await res.json()) as T;
}

/** Set-up steps go straight to the REST routes (each CLI run costs seconds here); the CLI is used where it is under test. */
async function post<T = unknown>(p: string, body: unknown): Promise<T> {
  const res = await fetch(`${sys.url}/api/v1${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, `POST ${p}: ${res.status} ${await res.clone().text()}`);
  return (await res.json()) as T;
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

/** Every drive empty and idle, nothing queued, no robot fault pending: the start of each case. */
async function idle(): Promise<void> {
  await until('an idle library', async () => {
    const q = await get<Queue>('/libraries/lto9/queue');
    const inv = await get<{ drives: { label: string | null }[] }>('/libraries/lto9');
    const faults = await get<{ robots: Record<string, { jammed: boolean; failNext: number[]; dropReplies: number }> }>('/sim/faults');
    const f = faults.robots[ROBOT]!;
    const quiet = q.requests.length === 0 && q.movers.every((m) => m.state === 'idle') && inv.drives.every((d) => d.label === null);
    return quiet && !f.jammed && f.failNext.length === 0 && f.dropReplies === 0 ? true : undefined;
  });
}

let n = 0;
async function localFile(size = 200_000): Promise<string> {
  const f = path.join(work, `f${++n}.dat`);
  await fs.writeFile(f, randomBytes(size));
  return f;
}

async function write(dst: string, extra: string[] = []): Promise<{ r: CliResult; s: Summary }> {
  const r = await encp(['--json', ...extra, await localFile(), dst], env);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  assert.ok(line.startsWith('{'), `encp printed no summary: ${r.stdout} ${r.stderr}`);
  return { r, s: JSON.parse(line) as Summary };
}

function ok({ r, s }: { r: CliResult; s: Summary }): Summary {
  assert.equal(r.code, 0, `encp failed: ${r.stderr} ${JSON.stringify(s)}`);
  assert.equal(s.ok, true);
  return s;
}

async function transfersOf(bfid: string): Promise<Transfer[]> {
  return (await get<Transfer[]>('/transfers?library=lto9')).filter((t) => t.bfid === bfid);
}

/** The file is active in the catalogue at the place encp was told. */
async function onTape(dst: string, s: Summary): Promise<void> {
  const info = await get<{ bfid: string; state: string; volume: string; fileNo: number }>(`/files/info?path=${encodeURIComponent(dst)}`);
  assert.deepEqual({ bfid: info.bfid, state: info.state, volume: info.volume, fileNo: info.fileNo }, { bfid: s.bfid, state: 'active', volume: s.volume, fileNo: s.fileNo });
}

async function fault(kind: string, body: { code?: number; count?: number } = {}): Promise<void> {
  await post(`/sim/robots/${ROBOT}/faults`, { kind, ...body });
}

const moverState = (mover: string, state: 'online' | 'offline') => post(`/movers/${mover}/state`, { state });
const resolveAlarm = (id: number) => post(`/alarms/${id}/resolve`, { by: 'test' });

async function openAlarm(key: string): Promise<Alarm | undefined> {
  return (await get<Alarm[]>('/alarms')).find((a) => a.key === key);
}

test('set-up: a directory for the files', async () => {
  await cli(['ns', 'mkdir', '-p', '/robot']);
  await cli(['ns', 'tag', 'set', '/robot', 'file_family', 'robot']);
});

test('BUSY twice: the media changer waits and retries, encp succeeds on the first assignment', async () => {
  await idle();
  await fault('fail-next', { code: 16, count: 2 });
  const s = ok(await write('/robot/busy.dat'));
  await onTape('/robot/busy.dat', s);
  const t = await transfersOf(s.bfid!);
  assert.deepEqual(t.map((x) => [x.ok, x.errorCode]), [[true, null]], 'retried inside the media changer, never re-queued');
});

test('RETRY, UNLOAD_RETRY and RELEASE_RETRY: retried after their delays, encp succeeds on the first assignment', async () => {
  await idle();
  for (const code of [3, 9, 2]) await fault('fail-next', { code });
  const s = ok(await write('/robot/retry.dat'));
  await onTape('/robot/retry.dat', s);
  assert.deepEqual((await transfersOf(s.bfid!)).map((x) => [x.ok, x.errorCode]), [[true, null]]);
  assert.deepEqual((await get<{ robots: Record<string, { failNext: number[] }> }>('/sim/faults')).robots[ROBOT]!.failNext, [], 'all three faults were met');
});

test('retries spent: the mount fails ROBOT_ERROR, the request is re-queued and succeeds on the next assignment', async () => {
  await idle();
  await fault('fail-next', { code: 3, count: 4 }); // 1 attempt + 3 retries
  const s = ok(await write('/robot/requeued.dat'));
  await onTape('/robot/requeued.dat', s);
  assert.deepEqual((await transfersOf(s.bfid!)).map((x) => [x.ok, x.errorCode]), [[false, 'ROBOT_ERROR'], [true, null]]);
});

test('retries spent on every assignment: encp fails TOO_MANY_RETRIES (exit 1), the path stays free', async () => {
  await idle();
  await fault('fail-next', { code: 3, count: 8 }); // two assignments of 4 attempts each
  const { r, s } = await write('/robot/given-up.dat', ['--max-retry', '1']);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(s.ok, false);
  assert.equal(s.error!.code, 'TOO_MANY_RETRIES');
  // Two assignments of the one request, both failed by the robot; nothing reached tape.
  const all = await get<Transfer[]>('/transfers?library=lto9');
  const last = all.at(-1)!;
  assert.deepEqual(all.filter((t) => t.requestId === last.requestId).map((t) => [t.ok, t.errorCode]), [[false, 'ROBOT_ERROR'], [false, 'ROBOT_ERROR']]);
  // The same path can be written once the robot is well.
  await idle();
  await onTape('/robot/given-up.dat', ok(await write('/robot/given-up.dat')));
});

test('FORCE_DEMOUNT: the drive is emptied first, the load is retried once, encp succeeds', async () => {
  await idle();
  await fault('fail-next', { code: 4 });
  const s = ok(await write('/robot/force.dat'));
  await onTape('/robot/force.dat', s);
  assert.deepEqual((await transfersOf(s.bfid!)).map((x) => [x.ok, x.errorCode]), [[true, null]]);
});

test('a dropped reply: the command times out, is retried with a new tag, encp succeeds; the LM answers meanwhile', async () => {
  await idle();
  await fault('drop-next-reply', { count: 2 });
  const pending = write('/robot/dropped.dat');
  // While the media changer waits out the timeouts, the library manager answers.
  const q = JSON.parse(await cli(['library', 'queue', 'lto9', '--json'])) as Queue;
  assert.equal(q.state, 'unlocked');
  const s = ok(await pending);
  await onTape('/robot/dropped.dat', s);
  assert.deepEqual((await transfersOf(s.bfid!)).map((x) => [x.ok, x.errorCode]), [[true, null]]);
  assert.equal((await get<{ robots: Record<string, { dropReplies: number }> }>('/sim/faults')).robots[ROBOT]!.dropReplies, 0);
});

test('EMPTY (the robot disagrees with the catalogue): no retry, an alarm names the volume, encp fails ELEMENT_EMPTY', async () => {
  await idle();
  await fault('fail-next', { code: 10 });
  const { r, s } = await write('/robot/empty.dat');
  assert.equal(r.code, 1, r.stderr);
  assert.equal(s.error!.code, 'ELEMENT_EMPTY');
  const failed = (await get<Transfer[]>('/transfers?library=lto9')).filter((t) => t.errorCode === 'ELEMENT_EMPTY');
  assert.equal(failed.length, 1, 'one assignment, not retried');
  const volume = failed[0]!.volume!;
  const alarm = await openAlarm(`ROBOT_LOCATION:${volume}`);
  assert.ok(alarm, 'an alarm for the volume');
  assert.equal(alarm.code, 'ELEMENT_EMPTY');
  assert.match(alarm.message, new RegExp(volume));
  assert.equal(alarm.detail.volume, volume);
  await resolveAlarm(alarm.id);
});

test('DRIVE_DOWN: the drive is marked down with an alarm, the file is written through another drive', async () => {
  await idle();
  // Only drive-1 may take the first assignment; its drive refuses the cartridge.
  for (const d of DRIVES.slice(1)) await moverState(d, 'offline');
  await post('/sim/drives/drive-1/faults', { kind: 'down' });
  const pending = write('/robot/drive-down.dat');
  const alarm = await until('the DRIVE_DOWN alarm', () => openAlarm('DRIVE_DOWN:drive-1'));
  assert.equal(alarm.code, 'DRIVE_DOWN');
  assert.equal(alarm.detail.drive, 'drive-1');
  await until('drive-1 down', async () => ((await get<{ name: string; driveState: string }[]>('/movers')).find((m) => m.name === 'drive-1')!.driveState === 'down' ? true : undefined));
  // The request waits in the queue (not failed) until another drive can take it.
  const q = await get<Queue>('/libraries/lto9/queue');
  assert.deepEqual(q.requests.map((r) => [r.kind, r.state]), [['write', 'queued']]);
  await moverState('drive-2', 'online');
  const s = ok(await pending);
  assert.equal(s.mover, 'drive-2');
  await onTape('/robot/drive-down.dat', s);
  assert.deepEqual((await transfersOf(s.bfid!)).map((x) => [x.drive, x.ok, x.errorCode]), [['drive-1', false, 'DRIVE_DOWN'], ['drive-2', true, null]]);
  // drive-1 gets no work while down, even after the other writes.
  const movers = await get<{ name: string; driveState: string }[]>('/movers');
  assert.equal(movers.find((m) => m.name === 'drive-1')!.driveState, 'down');
  // Repaired: the operator brings everything back.
  await post('/sim/drives/drive-1/faults', { kind: 'up' });
  for (const d of DRIVES) await moverState(d, 'online');
  assert.deepEqual((await get<{ driveState: string }[]>('/movers')).map((m) => m.driveState), ['up', 'up', 'up', 'up']);
  await resolveAlarm(alarm.id);
});

test('OPERATOR (door open): same hold; resolving the alarm by hand also lets mounts resume', async () => {
  await idle();
  await fault('fail-next', { code: 6 });
  const pending = write('/robot/operator.dat');
  const alarm = await until('the robot alarm', () => openAlarm(`ROBOT_OPERATOR:${ROBOT}`));
  assert.equal(alarm.detail.robotCode, 6);
  await until('the write re-queued', async () => {
    const q = await get<Queue>('/libraries/lto9/queue');
    return q.requests.length === 1 && q.requests[0]!.state === 'queued' && q.requests[0]!.lastError?.includes('OPERATOR') ? true : undefined;
  });
  await resolveAlarm(alarm.id);
  const s = ok(await pending);
  await onTape('/robot/operator.dat', s);
  assert.deepEqual((await transfersOf(s.bfid!)).map((x) => [x.ok, x.errorCode]), [[false, 'ROBOT_OPERATOR'], [true, null]]);
});

// Last of the cases that need an idle library: its first tape stays mounted (delayed dismount).
test('JAMMED: alarm with the robot text, mounts stop but the queue waits, the LM keeps answering; after the reset everything finishes', async () => {
  await idle();
  // A tape kept mounted (delayed dismount) before the jam: work on it must go on during the jam.
  const first = ok(await write('/robot/before-jam.dat', ['--delayed-dismount', '10']));
  await fault('jam');
  // Another family: it needs a mount of another volume, which the jam refuses.
  const jammedWrite = write('/robot/jammed.dat', ['--file-family', 'jam']);
  const alarm = await until('the robot alarm', () => openAlarm(`ROBOT_OPERATOR:${ROBOT}`));
  assert.equal(alarm.code, 'ROBOT_OPERATOR');
  assert.match(alarm.message, /accessor jammed/);
  assert.match(alarm.message, /tapestry robot reset robot-1/);
  // The failed mount went back to the queue: waiting, not failed.
  await until('the jammed write re-queued', async () => {
    const q = await get<Queue>('/libraries/lto9/queue');
    return q.requests.length === 1 && q.requests[0]!.state === 'queued' && q.requests[0]!.lastError?.includes('JAMMED') ? true : undefined;
  });
  // The LM answers, and takes a new request while jammed.
  const queueText = await cli(['library', 'queue', 'lto9']);
  assert.match(queueText, /write\s+queued/);
  const secondWrite = write('/robot/during-jam.dat', ['--file-family', 'jam']);
  await until('two writes queued', async () => ((await get<Queue>('/libraries/lto9/queue')).requests.filter((r) => r.state === 'queued').length === 2 ? true : undefined));
  // The tape still in its drive is read without any robot motion.
  const back = path.join(work, 'before-jam.back');
  const read = await encp(['--json', '/robot/before-jam.dat', back], env);
  assert.equal(read.code, 0, `read during the jam: ${read.stdout} ${read.stderr}`);
  assert.equal((JSON.parse(read.stdout.trim()) as Summary).volume, first.volume);
  // A reset while the accessor is still jammed is refused, naming the problem.
  const early = await tapestry(['robot', 'reset', ROBOT], env);
  assert.equal(early.code, 1);
  assert.match(early.stderr, /ROBOT_OPERATOR: robot robot-1 still reports JAMMED/);
  assert.equal((await get<Queue>('/libraries/lto9/queue')).requests.filter((r) => r.state === 'queued').length, 2, 'nothing was failed meanwhile');
  // The operator frees the accessor and says so.
  await fault('clear-jam');
  assert.match(await cli(['robot', 'reset', ROBOT]), /robot robot-1 is ready; operator alarm resolved/);
  const [a, b] = await Promise.all([jammedWrite, secondWrite]);
  await onTape('/robot/jammed.dat', ok(a));
  await onTape('/robot/during-jam.dat', ok(b));
  const resolved = (await get<Alarm[]>('/alarms?all=true')).find((x) => x.id === alarm.id)!;
  assert.ok(resolved.resolvedAt);
  assert.equal(await openAlarm(`ROBOT_OPERATOR:${ROBOT}`), undefined);
});

test('robot reset of an unknown robot is NOT_FOUND', async () => {
  const r = await tapestry(['robot', 'reset', 'no-such-robot'], env);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /NOT_FOUND: no robot "no-such-robot"/);
});
