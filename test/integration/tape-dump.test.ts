import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, stat, writeFile as writeFs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { MediaTypeConfig } from '../../src/config/types.ts';
import { isTapestryError } from '../../src/errors/index.ts';
import { CartridgeStore } from '../../hardware-sim/cartridge-store.ts';
import { writeFile, writeLabel } from '../../movers/tape-io.ts';
import { dumpTapeFile } from '../../tools/tapestry/tape-commands.ts';
import { pieces } from '../helpers/streams.ts';
import { TEST_MEDIA, loadedDrive } from '../helpers/tape-rig.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(REPO, 'bin/tapestry.js');
const MEDIA: MediaTypeConfig = { ...TEST_MEDIA, capacityBytes: 64 * 1024 * 1024, blockSize: 65536 };

let dir = '';
let tapes = '';
const run1 = randomBytes(1024 * 1024 + 7);
const run2 = randomBytes(1000);

/** Label + `files` on a fresh cartridge; `partial` adds a file cut short (no filemark). */
async function makeTape(store: CartridgeStore, label: string, files: [string, Buffer][], partial = false): Promise<void> {
  const drive = await loadedDrive(store, label, MEDIA);
  await writeLabel(drive, label);
  for (const [name, data] of files) {
    await writeFile(drive, { meta: { name, mtime: 1_700_000_000 }, source: pieces(data), blockSize: MEDIA.blockSize, expectedSize: data.length });
  }
  if (partial) {
    const short = async function* () {
      yield randomBytes(200_000);
    };
    await assert.rejects(writeFile(drive, { meta: { name: 'exp/partial' }, source: short(), blockSize: MEDIA.blockSize, expectedSize: 300_000 }));
  }
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tapestry-dump-'));
  tapes = path.join(dir, 'tapes');
  const store = new CartridgeStore(tapes);
  try {
    await makeTape(store, 'TS0001L9', [['/exp/raw/run1.dat', run1], ['/exp/raw/run2.dat', run2]]);
    await makeTape(store, 'TS0002L9', [['/exp/raw/run3.dat', run2]], true);
  } finally {
    await store.close();
  }
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Run a bash pipeline with pipefail; $TAPESTRY is the tape CLI as the user would type `tapestry`. */
function sh(script: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -o pipefail\n${script}`], {
      cwd: REPO,
      env: { ...process.env, TAPESTRY: `${process.execPath} ${CLI}`, TAPES: tapes, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

test('tape dump --file 1 | cpio -idv restores the original with GNU cpio', async () => {
  const out = path.join(dir, 'restore');
  await mkdir(out);
  const r = await sh('$TAPESTRY tape dump TS0001L9 --file 1 --tapes-dir "$TAPES" | (cd "$OUT" && cpio -idv --no-absolute-filenames)', { OUT: out });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /exp\/raw\/run1\.dat/);
  assert.deepEqual(await readFile(path.join(out, 'exp/raw/run1.dat')), run1);
});

test('tape dump reads simulator.tapes_dir from --config', async () => {
  const config = path.join(dir, 'tapestry.yaml');
  await writeFs(config, 'simulator:\n  tapes_dir: tapes\n  cartridges: []\n');
  const out = path.join(dir, 'restore-config');
  await mkdir(out);
  const r = await sh('$TAPESTRY tape dump TS0001L9 --file 2 --config "$CONFIG" | (cd "$OUT" && cpio -idv)', { CONFIG: config, OUT: out });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await readFile(path.join(out, 'exp/raw/run2.dat')), run2);
});

test('tape dump --file 0 writes the 80-byte VOL1 label', async () => {
  const r = await sh('$TAPESTRY tape dump TS0001L9 --file 0 --tapes-dir "$TAPES"');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.length, 80);
  assert.equal(r.stdout.toString('latin1', 0, 10), 'VOL1TS0001');
});

test('tape dump: an unknown label → NO_SUCH_VOLUME, exit 1', async () => {
  const r = await sh('$TAPESTRY tape dump TS0099L9 --file 1 --tapes-dir "$TAPES"');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^tapestry: NO_SUCH_VOLUME: no cartridge TS0099L9 in /);
  assert.equal(r.stdout.length, 0);
});

test('tape dump: a file number past the last file → BLANK_CHECK, exit 1', async () => {
  const atEnd = await sh('$TAPESTRY tape dump TS0001L9 --file 3 --tapes-dir "$TAPES"');
  assert.equal(atEnd.code, 1);
  assert.match(atEnd.stderr, /^tapestry: BLANK_CHECK: cartridge TS0001L9 has no file 3: end of data after file 2/);
  const beyond = await sh('$TAPESTRY tape dump TS0001L9 --file 9 --tapes-dir "$TAPES"');
  assert.equal(beyond.code, 1);
  assert.match(beyond.stderr, /^tapestry: BLANK_CHECK: cartridge TS0001L9 has no file 9/);
});

test('tape dump: usage errors exit 2', async () => {
  for (const args of ['TS0001L9 --file x --tapes-dir "$TAPES"', 'TS0001L9 --tapes-dir "$TAPES"', '../etc --file 1 --tapes-dir "$TAPES"']) {
    const r = await sh(`$TAPESTRY tape dump ${args}`);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
  }
  const config = path.join(dir, 'no-sim.yaml');
  await writeFs(config, 'http:\n  port: 8420\n');
  const r = await sh('$TAPESTRY tape dump TS0001L9 --file 1 --config "$CONFIG"', { CONFIG: config });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no simulator section; pass --tapes-dir/);
});

test('tape dump: a file cut short (no filemark) is dumped with a warning', async () => {
  const r = await sh('$TAPESTRY tape dump TS0002L9 --file 2 --tapes-dir "$TAPES"');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: file 2 of TS0002L9 has no closing filemark/);
  // 200,000 data bytes + the header fill three whole blocks; the partial fourth was never written.
  assert.equal(r.stdout.length, 3 * MEDIA.blockSize);
  assert.equal(r.stdout.toString('latin1', 0, 6), '070707');
});

test('tape dump: a reader that closes the pipe early ends the dump quietly', async () => {
  const r = await sh('$TAPESTRY tape dump TS0001L9 --file 1 --tapes-dir "$TAPES" | head -c 100 > /dev/null; echo "exit=${PIPESTATUS[0]}"');
  assert.match(r.stdout.toString(), /exit=0/);
  assert.equal(r.stderr, '');
});

test('dumpTapeFile honours backpressure and never repairs the cartridge it reads', async () => {
  // A torn index record at the end (what a crash mid-write leaves) must be ignored, not cut off:
  // a running server may be writing that very record.
  const index = path.join(tapes, 'TS0001L9', 'index');
  await appendFile(index, Buffer.alloc(5, 0xee));
  const sizeBefore = (await stat(index)).size;
  const chunks: Buffer[] = [];
  let waits = 0;
  const slow = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      waits++;
      setImmediate(done);
    },
  });
  const result = await dumpTapeFile({ tapesDir: tapes, label: 'TS0001L9', fileNo: 1, out: slow });
  assert.equal(result.end, 'filemark');
  assert.equal(waits, result.records);
  assert.equal((await stat(index)).size, sizeBefore, 'the read-only open left the index alone');
  const readOnly = new CartridgeStore(tapes, { readOnly: true });
  try {
    const cart = await readOnly.open('TS0001L9');
    await assert.rejects(cart.writeFilemarks(cart.recordCount, 1), (e: unknown) => isTapestryError(e, 'WRITE_PROTECTED'));
    await assert.rejects(cart.corruptRecord(0), (e: unknown) => isTapestryError(e, 'WRITE_PROTECTED'));
    await assert.rejects(cart.setWriteProtected(false), (e: unknown) => isTapestryError(e, 'WRITE_PROTECTED'));
  } finally {
    await readOnly.close();
  }
  const viaFile = path.join(dir, 'dump.cpio');
  const fileOut = createWriteStream(viaFile);
  await dumpTapeFile({ tapesDir: tapes, label: 'TS0001L9', fileNo: 1, out: fileOut });
  await new Promise((resolve) => fileOut.end(resolve));
  assert.deepEqual(await readFile(viaFile), Buffer.concat(chunks));
  assert.equal(Buffer.concat(chunks).length % 512, 0);
});
