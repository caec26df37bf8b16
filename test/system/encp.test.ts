import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { encp, tapestry, type RunningTapestry } from '../helpers/cli.ts';
import { withSystem } from '../helpers/system-fixture.ts';
import type { TestInstallation } from '../helpers/system-config.ts';

/**
 * The write/read path as users drive it: the real `encp` and `tapestry`
 * binaries against `tapestry start` (simulated library, 4 drives). Volumes are
 * 64 MB so that "does not fit" cases are cheap.
 */
let inst: TestInstallation;
let sys: RunningTapestry;
let env: NodeJS.ProcessEnv;
let work: string;

interface Transfer { direction: string; volume: string; fileNo: number | null; mover: string; ok: boolean | null; fileFamily: string | null; startedAt: string; finishedAt: string | null; errorCode: string | null }

const get = async <T>(p: string): Promise<T> => (await fetch(`${sys.url}/api/v1${p}`)).json() as Promise<T>;
const sha = async (f: string): Promise<string> => createHash('sha256').update(await fs.readFile(f)).digest('hex');

async function cli(args: string[]): Promise<string> {
  const r = await tapestry(args, env);
  assert.equal(r.code, 0, `tapestry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function family(dir: string, ff: string, width: number): Promise<void> {
  await cli(['ns', 'mkdir', '-p', dir]);
  await cli(['ns', 'tag', 'set', dir, 'file_family', ff]);
  await cli(['ns', 'tag', 'set', dir, 'file_family_width', String(width)]);
}

async function localFile(name: string, size: number): Promise<string> {
  const f = path.join(work, name);
  await fs.writeFile(f, randomBytes(size));
  return f;
}

withSystem({
    timeScale: 0.001,
    replace: [[/^    capacity: 18TB/m, '    capacity: 64MB'], [/^    dismount_delay: 60s/m, '    dismount_delay: 1s'], [/^    block_size: 256KiB/m, '    block_size: 64KiB']],
  }, (s) => {
  ({ inst, sys, env, work } = s);
});

test('6 concurrent writes into a family of width 2: at most 2 of its volumes written at once, one family per volume', async () => {
  await family('/exp/raw', 'raw', 2);
  const files = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => localFile(`w${i}.dat`, 300_000 + i)));
  const results = await Promise.all(files.map((f, i) => encp(['--json', f, `/exp/raw/w${i + 1}.dat`], env)));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const transfers = (await get<Transfer[]>('/transfers?library=lto9')).filter((t) => t.direction === 'write' && t.fileFamily === 'raw');
  assert.equal(transfers.length, 6);
  // Sweep the transfer intervals: count distinct family volumes in use at every start.
  for (const t of transfers) {
    const at = Date.parse(t.startedAt);
    const busy = new Set(transfers.filter((u) => Date.parse(u.startedAt) <= at && Date.parse(u.finishedAt!) > at).map((u) => u.volume));
    assert.ok(busy.size <= 2, `${busy.size} volumes of family raw written at once: ${[...busy].join(', ')}`);
  }
  const volumes = new Set(transfers.map((t) => t.volume));
  assert.ok(volumes.size <= 2);
  for (const v of volumes) {
    const info = JSON.parse(await cli(['volume', 'info', v, '--json'])) as { volumeFamily: string };
    assert.equal(info.volumeFamily, 'default.raw.cpio_odc');
  }
});

test('50 files of mixed sizes written with --ecrc and read back byte-identical', async () => {
  await family('/exp/many', 'many', 1);
  const sizes = [0, 1, 511, 512, 513, 65_535, 65_536, 65_537, ...Array.from({ length: 42 }, (_, i) => (i * 7919 * 37) % 900_000)];
  const srcDir = path.join(work, 'many');
  await fs.mkdir(srcDir);
  const names = await Promise.all(sizes.map(async (size, i) => {
    const f = path.join(srcDir, `m${String(i).padStart(2, '0')}.dat`);
    await fs.writeFile(f, randomBytes(size));
    return f;
  }));
  const w = await encp(['--ecrc', '--json', ...names, '/exp/many'], env);
  assert.equal(w.code, 0, w.stderr);
  const written = w.stdout.trim().split('\n').map((l) => JSON.parse(l) as { ok: boolean; volume: string });
  assert.equal(written.length, 50);
  assert.ok(written.every((s) => s.ok));

  const outDir = path.join(work, 'many-back');
  await fs.mkdir(outDir);
  const r = await encp(['--json', ...names.map((n) => `/exp/many/${path.basename(n)}`), outDir], env);
  assert.equal(r.code, 0, r.stderr);
  for (const n of names) assert.equal(await sha(path.join(outDir, path.basename(n))), await sha(n), `${path.basename(n)} differs`);

  const info = JSON.parse(await cli(['file', 'info', '/exp/many/m10.dat', '--json'])) as { state: string; volume: string; fileNo: number };
  assert.equal(info.state, 'active');
  const onTape = JSON.parse(await cli(['volume', 'files', info.volume, '--json'])) as { fileNo: number; path: string }[];
  assert.deepEqual(onTape.map((f) => f.fileNo), onTape.map((_, i) => i + 1), 'tape order, no gaps');
});

test('reads of positions 7, 2, 5 of one volume: one mount, served 2, 5, 7', async () => {
  await family('/exp/seq', 'seq', 1);
  const names = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((i) => localFile(`s${i}.dat`, 50_000 + i)));
  const w = await encp([...names, '/exp/seq'], env);
  assert.equal(w.code, 0, w.stderr);
  const vol = (JSON.parse(await cli(['file', 'info', '/exp/seq/s1.dat', '--json'])) as { volume: string }).volume;
  // Wait for the library manager to dismount it (dismount_delay 1 s in this installation).
  for (let i = 0; i < 100; i++) {
    const v = JSON.parse(await cli(['volume', 'info', vol, '--json'])) as { location: { kind: string } };
    if (v.location.kind === 'slot') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const before = JSON.parse(await cli(['volume', 'info', vol, '--json'])) as { mounts: number; location: { kind: string } };
  assert.equal(before.location.kind, 'slot', 'the volume was dismounted after the delay');
  const out = path.join(work, 'seq-back');
  await fs.mkdir(out);
  const onTape = JSON.parse(await cli(['volume', 'files', vol, '--json'])) as { fileNo: number; path: string }[];
  const at = (n: number): string => onTape.find((f) => f.fileNo === n)!.path;
  const r = await encp([at(7), at(2), at(5), out], env);
  assert.equal(r.code, 0, r.stderr);
  const reads = (await get<Transfer[]>(`/transfers?volume=${vol}`)).filter((t) => t.direction === 'read');
  assert.deepEqual(reads.map((t) => t.fileNo), [2, 5, 7]);
  const afterInfo = JSON.parse(await cli(['volume', 'info', vol, '--json'])) as { mounts: number };
  assert.equal(afterInfo.mounts, before.mounts + 1, 'one mount for the three reads');
});

test('a silently corrupted block: the read fails with CRC_MISMATCH, exit 1, no output file, an alarm', async () => {
  await family('/exp/corrupt', 'corrupt', 1);
  const f = await localFile('c1.dat', 300_000);
  assert.equal((await encp([f, '/exp/corrupt/c1.dat'], env)).code, 0);
  const info = JSON.parse(await cli(['file', 'info', '/exp/corrupt/c1.dat', '--json'])) as { volume: string; fileNo: number };
  assert.equal(info.fileNo, 1);
  // Records of a fresh tape: 0 = VOL1, 1 = filemark, 2.. = file 1 (64 KiB blocks); 3 holds only data bytes.
  await cli(['sim', 'fault', 'cartridge', info.volume, 'corrupt-record-silently', '3']);
  const outDir = path.join(work, 'corrupt-out');
  await fs.mkdir(outDir);
  const r = await encp(['/exp/corrupt/c1.dat', path.join(outDir, 'c1.dat')], env);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /CRC_MISMATCH/);
  assert.deepEqual(await fs.readdir(outDir), [], 'no output or temporary file left behind');
  const alarms = JSON.parse(await cli(['alarm', 'list', '--json'])) as { code: string; message: string }[];
  assert.ok(alarms.some((a) => a.code === 'CRC_MISMATCH' && a.message.includes(info.volume)), 'an alarm names the volume');
});

test('a file too large for the current volume lands on another one, and the first becomes full', async () => {
  await family('/exp/big', 'big', 1);
  const first = await localFile('big1.dat', 40_000_000);
  const second = await localFile('big2.dat', 30_000_000);
  assert.equal((await encp([first, '/exp/big/big1.dat'], env)).code, 0);
  const r = await encp([second, '/exp/big/big2.dat'], env);
  assert.equal(r.code, 0, r.stderr);
  const a = JSON.parse(await cli(['file', 'info', '/exp/big/big1.dat', '--json'])) as { volume: string };
  const b = JSON.parse(await cli(['file', 'info', '/exp/big/big2.dat', '--json'])) as { volume: string };
  assert.notEqual(a.volume, b.volume);
  const va = JSON.parse(await cli(['volume', 'info', a.volume, '--json'])) as { systemInhibit: { state: string } };
  assert.equal(va.systemInhibit.state, 'full');
});

test('readonly, full and NOTALLOWED volumes never take writes; reads of NOACCESS volumes fail before queueing', async () => {
  await family('/exp/inh', 'inh', 1);
  const f = await localFile('inh1.dat', 10_000);
  assert.equal((await encp([f, '/exp/inh/inh1.dat'], env)).code, 0);
  const vol = (JSON.parse(await cli(['file', 'info', '/exp/inh/inh1.dat', '--json'])) as { volume: string }).volume;
  for (const inhibit of ['readonly', 'full', 'notallowed']) {
    await cli(['volume', 'set', vol, inhibit]);
    const g = await localFile(`inh-${inhibit}.dat`, 10_000);
    const r = await encp([g, `/exp/inh/inh-${inhibit}.dat`], env);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(await cli(['file', 'info', `/exp/inh/inh-${inhibit}.dat`, '--json'])) as { volume: string };
    assert.notEqual(info.volume, vol, `a ${inhibit} volume was chosen for a write`);
    await cli(['volume', 'clear', vol]);
    await cli(['volume', 'clear', vol, 'user', 'access']).catch(() => undefined);
  }
  await cli(['volume', 'set', vol, 'noaccess']);
  const t0 = Date.now();
  const r = await encp(['/exp/inh/inh1.dat', path.join(work, 'never.dat')], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /NOACCESS/);
  assert.ok(Date.now() - t0 < 10_000);
  await assert.rejects(fs.stat(path.join(work, 'never.dat')));
  const queue = await get<{ requests: unknown[] }>('/libraries/lto9/queue');
  assert.equal(queue.requests.length, 0, 'nothing was queued');
});

test('library states: locked and nowrite refuse writes, pause holds them in the queue until unlocked', async () => {
  await family('/exp/states', 'states', 1);
  const f = await localFile('st.dat', 20_000);
  await cli(['library', 'state', 'lto9', 'locked', '--reason', 'maintenance']);
  const locked = await encp([f, '/exp/states/a.dat'], env);
  assert.equal(locked.code, 1);
  assert.match(locked.stderr, /LIBRARY_LOCKED: .*library lto9 is locked/);
  await cli(['library', 'state', 'lto9', 'nowrite']);
  assert.match((await encp([f, '/exp/states/a.dat'], env)).stderr, /LIBRARY_LOCKED: .*library lto9 is nowrite/);
  const read = await encp(['/exp/raw/w1.dat', path.join(work, 'w1-during-nowrite.dat')], env);
  assert.equal(read.code, 0, `reads still work under nowrite: ${read.stderr}`);

  await cli(['library', 'state', 'lto9', 'pause']);
  const pending = encp([f, '/exp/states/b.dat'], env);
  let queued = false;
  for (let i = 0; i < 50 && !queued; i++) {
    const q = JSON.parse(await cli(['library', 'queue', 'lto9', '--json'])) as { state: string; requests: { kind: string; state: string; key: string }[] };
    queued = q.state === 'pause' && q.requests.some((r) => r.kind === 'write' && r.state === 'queued' && r.key === 'default.states.cpio_odc');
    if (!queued) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(queued, 'the write waits in the queue while the library is paused');
  await new Promise((r) => setTimeout(r, 3000));
  const still = JSON.parse(await cli(['library', 'queue', 'lto9', '--json'])) as { requests: { state: string }[] };
  assert.ok(still.requests.every((r) => r.state === 'queued'), 'nothing is dispatched while paused');
  await cli(['library', 'state', 'lto9', 'unlocked']);
  const done = await pending;
  assert.equal(done.code, 0, done.stderr);
});

test('bad input everywhere gets a clear error', async () => {
  const local = await localFile('bad.dat', 10);
  const both = await encp([local, path.join(work, 'copy.dat')], env);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /exactly one side must be in the Tapestry namespace/);
  const bothNs = await encp(['/exp/raw/w1.dat', '/exp/raw/again.dat'], env);
  assert.equal(bothNs.code, 2);
  assert.match(bothNs.stderr, /both .* are in the namespace/);
  const missing = await encp([path.join(work, 'nope.dat'), '/exp/raw/nope.dat'], env);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no such file/);
  await cli(['ns', 'mkdir', '-p', '/untagged/dir']);
  const untagged = await encp([local, '/untagged/dir/x.dat'], env);
  assert.notEqual(untagged.code, 0);
  assert.match(untagged.stderr, /file_family/);
  const down = await encp([local, '/exp/raw/x.dat'], { TAPESTRY_URL: 'http://127.0.0.1:1' });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /UNAVAILABLE: cannot reach Tapestry/);

  // Garbage on the library manager's mover port and on a mover's data port:
  // an error answer and a closed connection, and the system carries on.
  const queue = await get<{ moverPort: string; movers: { dataAddress: string }[] }>('/libraries/lto9/queue');
  for (const address of [queue.moverPort, queue.movers[0]!.dataAddress]) {
    const [host, port] = address.split(':');
    const reply = await new Promise<Buffer>((resolve) => {
      const s = net.connect({ host: host!, port: Number(port) }, () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      const chunks: Buffer[] = [];
      s.on('data', (c) => chunks.push(c));
      s.on('close', () => resolve(Buffer.concat(chunks)));
      s.on('error', () => resolve(Buffer.concat(chunks)));
    });
    assert.ok(reply.length > 4, `${address} answered garbage with an error frame`);
    assert.ok(reply.includes(Buffer.from('MALFORMED')), `${address}: the error names MALFORMED`);
  }
  const again = await encp([local, '/exp/raw/after-garbage.dat'], env);
  assert.equal(again.code, 0, again.stderr);
});
