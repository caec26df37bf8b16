import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { encp, tapestry, type CliResult, type RunningTapestry } from '../helpers/cli.ts';
import { withSystem } from '../helpers/system-fixture.ts';
import type { TestInstallation } from '../helpers/system-config.ts';

/**
 * Reports, alarms and library-manager administration as an operator drives
 * them: files written with the real `encp` into three families, then the
 * `tapestry report`, `alarm`, `request`, `mover` and `library` commands (table
 * and --json) against one `tapestry start`.
 */
let inst: TestInstallation;
let sys: RunningTapestry;
let env: NodeJS.ProcessEnv;
let work: string;

interface FileInfo { bfid: string; volume: string; fileNo: number; size: number; drive: string | null }
interface QueueView {
  state: string;
  movers: { name: string; state: string; adminState: string; requestId: number | null }[];
  requests: { id: number; kind: string; state: string; priority: number; key: string; bfid: string; mover: string | null }[];
}
interface Transfer { requestId: number; direction: string; volume: string; mover: string; ok: boolean | null }

const api = async <T>(p: string): Promise<T> => (await fetch(`${sys.url}/api/v1${p}`)).json() as Promise<T>;
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function cli(...args: string[]): Promise<string> {
  const r = await tapestry(args, env);
  assert.equal(r.code, 0, `tapestry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const json = async <T>(...args: string[]): Promise<T> => JSON.parse(await cli(...args, '--json')) as T;

async function fails(code: number, pattern: RegExp, ...args: string[]): Promise<void> {
  const r: CliResult = await tapestry(args, env);
  assert.equal(r.code, code, `tapestry ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace instead of a message');
}

async function family(dir: string, ff: string, sg?: string): Promise<void> {
  await cli('ns', 'mkdir', '-p', dir);
  await cli('ns', 'tag', 'set', dir, 'file_family', ff);
  if (sg) await cli('ns', 'tag', 'set', dir, 'storage_group', sg);
}

async function localFile(name: string, size: number): Promise<string> {
  const f = path.join(work, name);
  await fs.writeFile(f, randomBytes(size));
  return f;
}

const info = (p: string): Promise<FileInfo> => json<FileInfo>('file', 'info', p);
const queue = (): Promise<QueueView> => api<QueueView>('/libraries/lto9/queue');

/** Poll the queue (the library manager's own view) until `ok` holds. */
async function queueUntil(what: string, ok: (q: QueueView) => boolean): Promise<QueueView> {
  for (let i = 0; i < 300; i++) {
    const q = await queue();
    if (ok(q)) return q;
    await pause(100);
  }
  throw new Error(`queue never showed: ${what}\n${JSON.stringify(await queue(), null, 2)}`);
}

withSystem({
    timeScale: 0.001,
    replace: [[/^    dismount_delay: 60s/m, '    dismount_delay: 1s'], [/^    mount_max_age: 2s/m, '    mount_max_age: 100ms'], [/^    block_size: 256KiB/m, '    block_size: 64KiB']],
  }, (s) => {
  ({ inst, sys, env, work } = s);
});

const sizes = { r1: 100_000, r2: 200_000, c1: 300_000, c2: 50_000, m1: 70_000 };

test('files written into three families: every report answers, as a table and as JSON', async () => {
  await family('/exp/raw', 'raw');
  await family('/exp/reco', 'reco');
  await family('/exp/mc', 'mc', 'sim');
  const [r1, r2, c1, c2, m1] = await Promise.all((Object.entries(sizes)).map(([n, s]) => localFile(`${n}.dat`, s)));
  const writes = await Promise.all([encp([r1!, r2!, '/exp/raw'], env), encp([c1!, c2!, '/exp/reco'], env), encp([m1!, '/exp/mc/m1.dat'], env)]);
  for (const w of writes) assert.equal(w.code, 0, w.stderr);
  const raw1 = await info('/exp/raw/r1.dat');
  const raw2 = await info('/exp/raw/r2.dat');
  const reco1 = await info('/exp/reco/c1.dat');
  const mc1 = await info('/exp/mc/m1.dat');
  assert.equal(raw1.volume, raw2.volume);
  assert.equal(new Set([raw1.volume, reco1.volume, mc1.volume]).size, 3, 'one volume per family');

  // where is file X: its volume and position, and whether that volume is in a slot or a drive.
  const where = await json<{ kind: string; files: { path: string; volume: string; fileNo: number; location: { kind: string; ref: string; inLibrary: boolean } }[] }>('report', 'where', '/exp/raw/r2.dat');
  assert.equal(where.kind, 'file');
  assert.deepEqual([where.files[0]!.volume, where.files[0]!.fileNo, where.files[0]!.location.inLibrary], [raw2.volume, raw2.fileNo, true]);
  const vol = await json<{ location: { kind: string; ref: string } }>('volume', 'info', raw2.volume);
  assert.deepEqual(where.files[0]!.location.kind, vol.location.kind);
  const whereText = await cli('report', 'where', '/exp/raw/r2.dat');
  assert.match(whereText, /^PATH\s+VOLUME\s+FILE_NO\s+WHERE\s+STATE\s+SIZE$/m);
  assert.match(whereText, new RegExp(`^/exp/raw/r2\\.dat\\s+${raw2.volume}\\s+${raw2.fileNo}\\s+library lto9, (slot \\d+|drive drive-\\d)\\s+active\\s+200000$`, 'm'));
  const tree = await json<{ files: { path: string; volume: string }[] }>('report', 'where', '/exp');
  assert.deepEqual(tree.files.map((f) => f.path), ['/exp/mc/m1.dat', '/exp/raw/r1.dat', '/exp/raw/r2.dat', '/exp/reco/c1.dat', '/exp/reco/c2.dat']);

  // files on volumes, in tape order, with the age span of each volume.
  const files = await json<{ files: { volume: string; fileNo: number; path: string; size: number; crc: number }[]; volumes: { volume: string; oldest: { path: string } | null; youngest: { path: string } | null }[] }>(
    'report', 'files', '--volume', raw1.volume, '--volume', reco1.volume,
  );
  assert.deepEqual(files.files.filter((f) => f.volume === raw1.volume).map((f) => f.fileNo), [1, 2]);
  assert.deepEqual(files.files.map((f) => f.volume), [raw1.volume, raw1.volume, reco1.volume, reco1.volume]);
  const r1Row = files.files.find((f) => f.path === '/exp/raw/r1.dat')!;
  assert.deepEqual([r1Row.fileNo, r1Row.size], [raw1.fileNo, sizes.r1]);
  assert.deepEqual(files.volumes.map((v) => v.volume), [raw1.volume, reco1.volume]);
  assert.ok(files.volumes.every((v) => v.oldest !== null && v.youngest !== null));
  const filesText = await cli('report', 'files', '--volume', mc1.volume);
  assert.match(filesText, new RegExp(`^${mc1.volume}\\s+1\\s+70000\\s+[0-9a-f]{8}\\s+active\\s+\\S+ \\S+\\s+/exp/mc/m1\\.dat$`, 'm'));
  assert.match(filesText, new RegExp(`^${mc1.volume}\\s+sim\\.mc\\.cpio_odc\\s+1\\s+70\\.0 kB\\s+/exp/mc/m1\\.dat`, 'm'));

  // which tapes of a family can leave: with a cutoff in the future, all of them.
  const familyVols = (await json<{ label: string }[]>('volume', 'list', '--family', 'raw')).map((v) => v.label).sort();
  const leaving = await json<{ familyVolumes: number; volumes: { label: string; lastMountAt: string | null }[] }>('report', 'family', 'raw', '--older-than', '2100-01-01');
  assert.deepEqual(leaving.volumes.map((v) => v.label).sort(), familyVols);
  assert.ok(leaving.volumes.every((v) => v.lastMountAt !== null), 'each has a last mount date');
  assert.match(await cli('report', 'family', 'raw', '--older-than', '2100-01-01'), new RegExp(`^file family raw: ${familyVols.length} of ${familyVols.length} volume\\(s\\) in the library hold only files older than 2100-01-01 00:00:00Z$`, 'm'));
  assert.deepEqual((await json<{ volumes: unknown[] }>('report', 'family', 'raw', '--older-than', '1d')).volumes, [], 'its files are younger than a day');
  assert.match(await cli('report', 'family', 'default.reco.cpio_odc'), new RegExp(`^${reco1.volume}\\s+lto9\\s+default\\.reco\\.cpio_odc\\s+2\\s`, 'm'));

  // volumes by last mount: never-mounted blanks first, the written ones after them.
  const volumes = await json<{ volumes: { label: string; lastMountAt: string | null; location: { inLibrary: boolean } }[] }>('report', 'volumes');
  assert.equal(volumes.volumes.length, 20);
  const firstMounted = volumes.volumes.findIndex((v) => v.lastMountAt !== null);
  assert.ok(firstMounted > 0 && volumes.volumes.slice(firstMounted).every((v) => v.lastMountAt !== null), 'never mounted first');
  assert.ok(volumes.volumes.every((v) => v.location.inLibrary));
  assert.match(await cli('report', 'volumes'), /^LABEL\s+LIBRARY\s+VOLUME FAMILY\s+LAST MOUNT\s+MOUNTS\s+FILES\s+IN\/OUT\s+LOCATION\s+INHIBITS/m);
  assert.match(await cli('report', 'volumes', '--inhibited'), /^no volume has an inhibit set$/m);
  await cli('volume', 'set', reco1.volume, 'readonly');
  const inhibited = await json<{ volumes: { label: string }[] }>('report', 'volumes', '--inhibited');
  assert.deepEqual(inhibited.volumes.map((v) => v.label), [reco1.volume]);
  assert.match(await cli('report', 'volumes', '--inhibited'), new RegExp(`^${reco1.volume}\\s.*\\bin\\s.*\\[none, none\\] \\[none, readonly\\]$`, 'm'));
  await cli('volume', 'clear', reco1.volume);

  // usage per storage group and family.
  const usage = await json<{ families: { storageGroup: string; fileFamily: string; volumes: number; activeFiles: number; activeBytes: number; freeBytes: number }[]; storageGroups: { storageGroup: string; volumes: number }[] }>('report', 'usage');
  const fam = (ff: string) => usage.families.find((f) => f.fileFamily === ff)!;
  assert.deepEqual([fam('raw').storageGroup, fam('raw').volumes, fam('raw').activeFiles, fam('raw').activeBytes], ['default', 1, 2, sizes.r1 + sizes.r2]);
  assert.deepEqual([fam('reco').activeFiles, fam('reco').activeBytes], [2, sizes.c1 + sizes.c2]);
  assert.deepEqual([fam('mc').storageGroup, fam('mc').activeFiles], ['sim', 1]);
  assert.equal(fam('none').volumes, 17, 'the blank common pool');
  assert.deepEqual(usage.storageGroups.map((g) => [g.storageGroup, g.volumes]), [['default', 2], ['none', 17], ['sim', 1]]);
  assert.match(await cli('report', 'usage'), /^lto9\s+default\s+\(all\)\s+2\s+4\s+650 kB\s/m);

  // drives and volume statistics from the transfer records.
  const drives = await json<{ drive: string; mounts: number; writes: number; bytesWritten: number; readErrors: number; writeErrors: number }[]>('report', 'drives');
  assert.deepEqual(drives.map((d) => d.drive), ['drive-1', 'drive-2', 'drive-3', 'drive-4']);
  assert.equal(drives.reduce((n, d) => n + d.writes, 0), 5);
  assert.equal(drives.reduce((n, d) => n + d.bytesWritten, 0), Object.values(sizes).reduce((a, b) => a + b));
  assert.ok(drives.reduce((n, d) => n + d.mounts, 0) >= 3, 'three volumes were mounted');
  assert.match(await cli('report', 'drives'), /^DRIVE\s+LIBRARY\s+STATE\s+MOUNTS\s+READS\s+WRITES\s+BYTES READ\s+BYTES WRITTEN\s+READ ERRORS\s+WRITE ERRORS\s+LAST ERROR$/m);
  const stats = await json<{ label: string; mounts: number; writes: number; writeErrors: number }[]>('report', 'volume-stats');
  const rawStats = stats.find((s) => s.label === raw1.volume)!;
  assert.deepEqual([rawStats.writes, rawStats.writeErrors], [2, 0]);
  assert.ok(rawStats.mounts >= 1);
  assert.match(await cli('report', 'volume-stats'), new RegExp(`^${raw1.volume}\\s+lto9\\s+\\d+\\s+\\S+ \\S+\\s+0\\s+2\\s+0\\s+0\\s+-$`, 'm'));

  // Bad input names what is wrong.
  await fails(2, /USERERROR: name at least one volume/, 'report', 'files');
  await fails(2, /USERERROR: "ts0001l9" is not a volume label/, 'report', 'files', '--volume', 'ts0001l9');
  await fails(1, /NO_SUCH_VOLUME: no volume TS0999L9/, 'report', 'files', '--volume', 'TS0999L9');
  await fails(2, /USERERROR: "soon" is not a date/, 'report', 'family', 'raw', '--older-than', 'soon');
  await fails(1, /NOT_FOUND: no volumes of file family nope/, 'report', 'family', 'nope');
  await fails(1, /NO_SUCH_FILE: no file or directory \/exp\/nope/, 'report', 'where', '/exp/nope');
  await fails(2, /USERERROR: illegal namespace path "exp": must be absolute/, 'report', 'where', 'exp');
  await fails(1, /NOT_FOUND: no library "lto8"/, 'report', 'usage', '--library', 'lto8');
});

test('alarms: one alarm per cause with its count and severity; read errors in the drive and volume reports', async () => {
  await family('/exp/corrupt', 'corrupt');
  const f = await localFile('bad.dat', 300_000);
  assert.equal((await encp([f, '/exp/corrupt/bad.dat'], env)).code, 0);
  const file = await info('/exp/corrupt/bad.dat');
  assert.equal(file.fileNo, 1);
  // Records of a fresh tape: 0 = VOL1, 1 = filemark, 2.. = file 1 (64 KiB blocks); 3 holds only data bytes.
  await cli('sim', 'fault', 'cartridge', file.volume, 'corrupt-record-silently', '3');
  for (const n of [1, 2]) {
    const r = await encp(['/exp/corrupt/bad.dat', path.join(work, `bad-${n}.dat`)], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /CRC_MISMATCH/);
  }
  const alarms = await json<{ id: number; key: string; severity: string; count: number; firstAt: string; lastAt: string }[]>('alarm', 'list');
  const crc = alarms.filter((a) => a.key.startsWith('CRC_MISMATCH'));
  assert.equal(crc.length, 1, `one alarm for one cause: ${JSON.stringify(alarms)}`);
  assert.deepEqual([crc[0]!.key, crc[0]!.count, crc[0]!.severity], [`CRC_MISMATCH:${file.bfid}`, 2, 'error']);
  assert.ok(Date.parse(crc[0]!.lastAt) > Date.parse(crc[0]!.firstAt));
  const table = await cli('alarm', 'list');
  assert.match(table, /^ID\s+SEVERITY\s+CAUSE\s+COUNT\s+FIRST SEEN\s+LAST SEEN\s+STATE\s+MESSAGE$/m);
  assert.match(table, new RegExp(`^${crc[0]!.id}\\s+error\\s+CRC_MISMATCH:${file.bfid}\\s+2\\s+\\S+ \\S+\\s+\\S+ \\S+\\s+open\\s+CRC mismatch on ${file.volume}`, 'm'));
  assert.match(await cli('alarm', 'list', '--severity', 'critical'), /^no open alarms$/m);
  await fails(2, /USERERROR: unknown severity "loud"/, 'alarm', 'list', '--severity', 'loud');

  const stats = await json<{ label: string; readErrors: number; lastError: string | null }[]>('report', 'volume-stats');
  const bad = stats.find((s) => s.label === file.volume)!;
  assert.deepEqual([bad.readErrors, bad.lastError], [2, 'CRC_MISMATCH']);
  const drives = await json<{ readErrors: number }[]>('report', 'drives');
  assert.equal(drives.reduce((n, d) => n + d.readErrors, 0), 2);

  await cli('alarm', 'resolve', String(crc[0]!.id));
  assert.ok(!(await json<{ key: string }[]>('alarm', 'list')).some((a) => a.key === crc[0]!.key));
});

test('request priority and cancel on requests queued while the library is paused', async () => {
  // One mover serves, so the order of service is the order of the queue.
  for (const m of ['drive-2', 'drive-3', 'drive-4']) assert.match(await cli('mover', 'offline', m), new RegExp(`^mover ${m}: online -> offline`));
  assert.match(await cli('library', 'pause', 'lto9'), /^library lto9: unlocked -> pause; 0 queued, 0 at movers$/m);
  const [a, b, c] = await Promise.all(['pa', 'pb', 'pc'].map((n) => localFile(`${n}.dat`, 40_000)));
  const encpA = encp([a!, '/exp/raw/pa.dat'], env);
  const encpB = encp([b!, '/exp/reco/pb.dat'], env);
  const encpC = encp([c!, '/exp/mc/pc.dat'], env);
  const q = await queueUntil('three queued writes', (v) => v.requests.filter((r) => r.state === 'queued').length === 3);
  const id = (key: string): number => q.requests.find((r) => r.key === key)!.id;
  const [idA, idB, idC] = [id('default.raw.cpio_odc'), id('default.reco.cpio_odc'), id('sim.mc.cpio_odc')];

  assert.match(await cli('request', 'priority', String(idB), '10'), new RegExp(`^request ${idB} \\(write default\\.reco\\.cpio_odc\\): priority 10$`, 'm'));
  assert.match(await cli('library', 'queue', 'lto9'), new RegExp(`^${idB}\\s+write\\s+queued\\s+10\\s+default\\.reco\\.cpio_odc`, 'm'));
  assert.match(await cli('request', 'cancel', String(idC), '--reason', 'wrong file'), new RegExp(`^request ${idC} \\(write sim\\.mc\\.cpio_odc\\) cancelled$`, 'm'));
  const cancelled = await encpC;
  assert.equal(cancelled.code, 1);
  assert.match(cancelled.stderr, new RegExp(`CANCELLED: .*request ${idC} was cancelled by \\S+: wrong file`));
  const gaveUp = await json<{ state: string; abandoned: boolean }>('file', 'info', '/exp/mc/pc.dat');
  assert.deepEqual([gaveUp.state, gaveUp.abandoned], ['writing', true], 'the cancelled write gave up its file entry');
  await fails(1, new RegExp(`CONFLICT: request ${idC} is cancelled; only a queued request can be changed`), 'request', 'cancel', String(idC));
  await fails(1, /NOT_FOUND: no request 999999/, 'request', 'priority', '999999', '3');
  await fails(2, /USERERROR: request id must be a positive whole number/, 'request', 'cancel', 'abc');
  await fails(2, /USERERROR: priority must be a whole number from 0 to 1000000, not "high"/, 'request', 'priority', String(idA), 'high');

  // The counts are taken after the change: the library manager may already have handed one out.
  assert.match(await cli('library', 'unlock', 'lto9'), /^library lto9: pause -> unlocked; [12] queued, [01] at movers$/m);
  for (const r of [await encpA, await encpB]) assert.equal(r.code, 0, r.stderr);
  const transfers = (await api<Transfer[]>('/transfers?library=lto9')).filter((t) => t.requestId === idA || t.requestId === idB);
  assert.deepEqual(transfers.map((t) => [t.requestId, t.mover]), [[idB, 'drive-1'], [idA, 'drive-1']], 'the raised priority went first');
  await fails(1, new RegExp(`CONFLICT: request ${idA} is done`), 'request', 'priority', String(idA), '5');
  // The cancelled path is free again.
  assert.equal((await encp([c!, '/exp/mc/pc.dat'], env)).code, 0);
  assert.equal((await json<{ state: string }>('file', 'info', '/exp/mc/pc.dat')).state, 'active');
});

test('mover offline: writes go to the movers still online, or wait for one; the state shows in the queue', async () => {
  for (const m of ['drive-1', 'drive-2', 'drive-3']) await cli('mover', 'offline', m);
  assert.match(await cli('mover', 'online', 'drive-4'), /^mover drive-4: offline -> online$/m);
  const list = await json<{ name: string; adminState: string; connected: boolean }[]>('mover', 'list');
  assert.deepEqual(list.map((m) => [m.name, m.adminState, m.connected]), [['drive-1', 'offline', true], ['drive-2', 'offline', true], ['drive-3', 'offline', true], ['drive-4', 'online', true]]);
  assert.match(await cli('mover', 'list'), /^drive-1\s+lto9\s+drive-1\s+offline\s+offline/m);
  assert.match(await cli('library', 'queue', 'lto9'), /^drive-2\s+offline/m);

  const f1 = await localFile('off1.dat', 30_000);
  assert.equal((await encp([f1, '/exp/raw/off1.dat'], env)).code, 0);
  assert.equal((await info('/exp/raw/off1.dat')).drive, 'drive-4', 'the only mover online took it');

  await cli('mover', 'offline', 'drive-4');
  const f2 = await localFile('off2.dat', 30_000);
  const waiting = encp([f2, '/exp/raw/off2.dat'], env);
  const queued = await queueUntil('the write queued', (v) => v.requests.some((r) => r.kind === 'write' && r.state === 'queued'));
  const reqId = queued.requests.find((r) => r.state === 'queued')!.id;
  await pause(1500);
  const held = await queue();
  assert.equal(held.requests.find((r) => r.id === reqId)?.state, 'queued', 'no mover online: the write waits');
  assert.ok(held.movers.every((m) => m.adminState === 'offline' && m.requestId === null));
  await cli('mover', 'online', 'drive-2');
  const done = await waiting;
  assert.equal(done.code, 0, done.stderr);
  assert.equal((await info('/exp/raw/off2.dat')).drive, 'drive-2');

  await fails(1, /NOT_FOUND: no mover "drive-9"/, 'mover', 'offline', 'drive-9');
  for (const m of ['drive-1', 'drive-3', 'drive-4']) await cli('mover', 'online', m);
  assert.ok((await queue()).movers.every((m) => m.adminState === 'online'));
});

test('lock: new requests are refused and nothing queued is dispatched; drain reports; unlock resumes', async () => {
  await cli('library', 'pause', 'lto9');
  const f = await localFile('held.dat', 30_000);
  const held = encp([f, '/exp/reco/held.dat'], env);
  const q = await queueUntil('the write queued', (v) => v.requests.some((r) => r.state === 'queued'));
  const id = q.requests.find((r) => r.state === 'queued')!.id;
  assert.match(await cli('library', 'lock', 'lto9', '--reason', 'robot service'), /^library lto9: pause -> locked; 1 queued, 0 at movers$/m);
  const refused = await encp([f, '/exp/reco/refused.dat'], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /LIBRARY_LOCKED: .*library lto9 is locked/);
  await pause(1500);
  assert.equal((await queue()).requests.find((r) => r.id === id)?.state, 'queued', 'locked: nothing queued is handed out');
  assert.match(await cli('library', 'drain', 'lto9', '--wait'), /^library lto9: locked -> locked \(draining\); 0 transfer\(s\) at movers, 1 queued request\(s\) held\nlibrary lto9: drained, no transfer at a mover$/m);
  assert.equal((await queue()).state, 'locked');
  assert.match(await cli('library', 'unlock', 'lto9'), /^library lto9: locked -> unlocked; [01] queued, [01] at movers$/m);
  const done = await held;
  assert.equal(done.code, 0, done.stderr);
  await fails(2, /error: missing required argument 'library'/, 'library', 'lock');
  await fails(1, /NOT_FOUND: no library "lto8"/, 'library', 'drain', 'lto8');
});
