import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { isTapestryError, type ErrorCode } from '../../src/errors/index.ts';
import { CartridgeStore } from '../../hardware-sim/cartridge-store.ts';
import { INDEX_RECORD_BYTES, type Cartridge } from '../../hardware-sim/cartridge.ts';

const MB = 1_000_000;

/** Open file descriptors of this process (Linux); the last test checks none leaked. */
const openFds = (): number => readdirSync('/proc/self/fd').length;
const fdsAtStart = openFds();

/** A fresh tapes directory and store for one test, removed afterwards. */
async function withStore(fn: (store: CartridgeStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tapestry-cart-'));
  const store = new CartridgeStore(dir);
  try {
    await fn(store, dir);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function code(expected: ErrorCode): (err: unknown) => boolean {
  return (err) => isTapestryError(err, expected);
}

async function readAll(cart: Cartridge): Promise<(Buffer | 'FM')[]> {
  const out: (Buffer | 'FM')[] = [];
  for (let i = 0; i < cart.recordCount; i++) {
    const r = await cart.readRecord(i);
    out.push(r.kind === 'data' ? r.data : 'FM');
  }
  return out;
}

/** Layout used by several tests: file 0 = 1 block, file 1 = 3 blocks, file 2 = 2 blocks (no trailing filemark). */
async function writeThreeFiles(cart: Cartridge): Promise<(Buffer | 'FM')[]> {
  const layout: (Buffer | 'FM')[] = [randomBytes(80), 'FM', randomBytes(1000), randomBytes(1), randomBytes(4096), 'FM', randomBytes(500), randomBytes(700)];
  let n = 0;
  for (const item of layout) {
    if (item === 'FM') await cart.writeFilemarks(n, 1);
    else await cart.writeBlock(n, item);
    n++;
  }
  return layout;
}

test('blocks and filemarks read back byte-identical, with positions and file starts', async () => {
  await withStore(async (store) => {
    const cart = await store.create({ label: 'VOL001', mediaType: 'LTO-9', capacityBytes: 10 * MB });
    const layout = await writeThreeFiles(cart);
    assert.deepEqual(await readAll(cart), layout);
    assert.equal(cart.recordCount, 8);
    assert.equal(cart.filemarkCount, 2);
    assert.equal(cart.usedBytes, 80 + 1000 + 1 + 4096 + 500 + 700);

    assert.equal(cart.fileStart(0), 0);
    assert.equal(cart.fileStart(1), 2);
    assert.equal(cart.fileStart(2), 6);
    assert.throws(() => cart.fileStart(3), code('BLANK_CHECK'));
    assert.deepEqual(cart.positionOf(2), { fileNo: 1, record: 2, bytes: 80 });
    assert.deepEqual(cart.positionOf(6), { fileNo: 2, record: 6, bytes: 80 + 1000 + 1 + 4096 });
    assert.deepEqual(cart.positionOf(8), { fileNo: 2, record: 8, bytes: cart.usedBytes });
    await assert.rejects(cart.readRecord(8), code('BLANK_CHECK'));
  });
});

test('the index is the documented 32-byte little-endian layout', async () => {
  await withStore(async (store, dir) => {
    const cart = await store.create({ label: 'VOL001', mediaType: 'LTO-9', capacityBytes: 10 * MB });
    const a = randomBytes(300);
    const b = randomBytes(200);
    await cart.writeBlock(0, a);
    await cart.writeFilemarks(1, 1);
    await cart.writeBlock(2, b);
    const index = await readFile(path.join(dir, 'VOL001', 'index'));
    assert.equal(index.length, 3 * 32);
    const rec = (i: number) => {
      const r = index.subarray(i * 32, i * 32 + 32);
      return [r[0], r[1], r.readUInt16LE(2), r.readUInt32LE(4), Number(r.readBigUInt64LE(8)), Number(r.readBigUInt64LE(16)), r.readUInt32LE(24), r.readUInt32LE(28)];
    };
    assert.deepEqual(rec(0), [1, 0, 0, 300, 0, 0, crc32(a), 0]);
    assert.deepEqual(rec(1), [2, 0, 0, 0, 300, 300, 0, 0]);
    assert.deepEqual(rec(2), [1, 0, 0, 200, 300, 300, crc32(b), 0]);
    assert.deepEqual(await readFile(path.join(dir, 'VOL001', 'data')), Buffer.concat([a, b]));
    const meta = JSON.parse(await readFile(path.join(dir, 'VOL001', 'meta.json'), 'utf8'));
    assert.deepEqual(meta, { formatVersion: 1, label: 'VOL001', mediaType: 'LTO-9', capacityBytes: 10 * MB, writeProtected: false, earlyEndOfTapeBytes: null });
  });
});

test('the Python recipe in docs/cartridge-format.md extracts file N', { skip: spawnSync('python3', ['--version']).status !== 0 && 'no python3' }, async () => {
  await withStore(async (store, dir) => {
    const doc = await readFile(new URL('../../docs/cartridge-format.md', import.meta.url), 'utf8');
    const script = /```python\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(script, 'the doc has a python block');
    const scriptPath = path.join(dir, 'extract.py');
    await writeFile(scriptPath, script);
    const cart = await store.create({ label: 'VOL001', mediaType: 'LTO-9', capacityBytes: 10 * MB });
    const layout = await writeThreeFiles(cart);
    const extract = (n: number) => execFileSync('python3', [scriptPath, path.join(dir, 'VOL001'), String(n)]);
    assert.deepEqual(extract(1), Buffer.concat(layout.slice(2, 5) as Buffer[]));
    assert.deepEqual(extract(2), Buffer.concat(layout.slice(6) as Buffer[]));
    assert.deepEqual(extract(0), layout[0]);
  });
});

test('writing in the middle truncates every record after it', async () => {
  await withStore(async (store, dir) => {
    const cart = await store.create({ label: 'VOL001', mediaType: 'LTO-9', capacityBytes: 10 * MB });
    const layout = await writeThreeFiles(cart);
    const fresh = randomBytes(333);
    await cart.writeBlock(3, fresh); // replaces record 3 (1 byte) and drops 4..7
    assert.deepEqual(await readAll(cart), [...layout.slice(0, 3), fresh]);
    assert.equal(cart.filemarkCount, 1);
    assert.throws(() => cart.fileStart(2), code('BLANK_CHECK'));
    assert.equal((await stat(path.join(dir, 'VOL001', 'index'))).size, 4 * INDEX_RECORD_BYTES);
    assert.equal((await stat(path.join(dir, 'VOL001', 'data'))).size, 80 + 1000 + 333);

    await cart.writeFilemarks(1, 2); // filemarks over the middle too
    assert.deepEqual(await readAll(cart), [layout[0], 'FM', 'FM']);
    assert.equal((await stat(path.join(dir, 'VOL001', 'data'))).size, 80);
  });
});

test('a write past capacity fails with END_OF_TAPE and leaves the tape intact', async () => {
  await withStore(async (store) => {
    const cart = await store.create({ label: 'VOL001', mediaType: 'LTO-9', capacityBytes: 10 * MB });
    const block = randomBytes(3 * MB);
    for (let n = 0; n < 3; n++) await cart.writeBlock(n, block);
    await assert.rejects(cart.writeBlock(3, block), code('END_OF_TAPE'));
    assert.equal(cart.recordCount, 3);
    await cart.writeBlock(3, randomBytes(MB)); // exactly fills the tape
    assert.equal(cart.usedBytes, 10 * MB);
    await assert.rejects(cart.writeBlock(4, Buffer.alloc(1)), code('END_OF_TAPE'));
    assert.equal(cart.recordCount, 4);
    assert.deepEqual(await cart.readRecord(2), { kind: 'data', data: block });
  });
});

test('early end-of-tape refuses writes beyond it, persists, and can be cleared', async () => {
  await withStore(async (store, dir) => {
    const cart = await store.create({ label: 'VOL001', mediaType: 'LTO-9', capacityBytes: 10 * MB });
    await cart.writeBlock(0, randomBytes(MB));
    await store.setEarlyEndOfTape('VOL001', 1.5 * MB);
    await assert.rejects(cart.writeBlock(1, randomBytes(MB)), (err) => isTapestryError(err, 'END_OF_TAPE') && err.context['limit'] === 1.5 * MB);
    assert.equal(cart.recordCount, 1);
    assert.equal(cart.describe().earlyEndOfTapeBytes, 1.5 * MB);

    await store.close();
    const second = new CartridgeStore(dir);
    try {
      const again = await second.open('VOL001');
      assert.equal(again.earlyEndOfTapeBytes, 1.5 * MB);
      await again.setEarlyEndOfTape(null);
      await again.writeBlock(1, randomBytes(MB));
      assert.equal(again.recordCount, 2);
    } finally {
      await second.close();
    }
  });
});

test('everything persists across a new store on the same directory', async () => {
  await withStore(async (store, dir) => {
    const cart = await store.create({ label: 'VOL001', mediaType: 'LTO-9', capacityBytes: 10 * MB });
    const layout = await writeThreeFiles(cart);
    await store.setWriteProtected('VOL001', true);
    await store.close();

    const reopened = new CartridgeStore(dir);
    try {
      const again = await reopened.open('VOL001');
      assert.deepEqual(again.repair, { indexBytesTrimmed: 0, dataBytesTrimmed: 0 });
      assert.deepEqual(await readAll(again), layout);
      assert.equal(again.writeProtected, true);
      assert.equal(again.fileStart(2), 6);
      await assert.rejects(again.writeBlock(8, Buffer.alloc(10)), code('WRITE_PROTECTED'));
    } finally {
      await reopened.close();
    }
  });
});

test('re-open after a crash trims a partial index record, a garbage record and surplus data', async () => {
  await withStore(async (store, dir) => {
    const cart = await store.create({ label: 'VOL001', mediaType: 'LTO-9', capacityBytes: 10 * MB });
    const layout = await writeThreeFiles(cart);
    await store.close();
    const cdir = path.join(dir, 'VOL001');
    // A crash between the payload and its index record, then garbage in the index.
    await appendFile(path.join(cdir, 'data'), randomBytes(1234));
    await appendFile(path.join(cdir, 'index'), Buffer.concat([Buffer.alloc(32, 0xab), randomBytes(7)]));

    const again = await store.open('VOL001');
    assert.deepEqual(again.repair, { indexBytesTrimmed: 39, dataBytesTrimmed: 1234 });
    assert.deepEqual(await readAll(again), layout);
    assert.equal((await stat(path.join(cdir, 'index'))).size, 8 * 32);
    // Appending after the repair lands where it should.
    const more = randomBytes(100);
    await again.writeBlock(8, more);
    assert.deepEqual((await readAll(again)).at(-1), more);
  });
});

test('re-open cuts index records whose payload never reached data', async () => {
  await withStore(async (store, dir) => {
    const cart = await store.create({ label: 'VOL001', mediaType: 'LTO-9', capacityBytes: 10 * MB });
    await cart.writeBlock(0, randomBytes(100));
    await cart.writeBlock(1, randomBytes(100));
    await store.close();
    const dataPath = path.join(dir, 'VOL001', 'data');
    await writeFile(dataPath, (await readFile(dataPath)).subarray(0, 150));
    const again = await store.open('VOL001');
    assert.deepEqual(again.repair, { indexBytesTrimmed: 32, dataBytesTrimmed: 50 });
    assert.equal(again.recordCount, 1);
  });
});

test('a corrupted block fails its crc check with MEDIA_ERROR; others still read', async () => {
  await withStore(async (store, dir) => {
    const cart = await store.create({ label: 'VOL001', mediaType: 'LTO-9', capacityBytes: 10 * MB });
    const layout = await writeThreeFiles(cart);
    await store.corruptRecord('VOL001', 3); // the 1-byte block
    await assert.rejects(cart.readRecord(3), (err) => isTapestryError(err, 'MEDIA_ERROR') && err.context['record'] === 3);
    assert.deepEqual(await cart.readRecord(4), { kind: 'data', data: layout[4] });
    await assert.rejects(store.corruptRecord('VOL001', 1), code('USERERROR')); // a filemark
    await store.close();
    const second = new CartridgeStore(dir);
    try {
      await assert.rejects((await second.open('VOL001')).readRecord(3), code('MEDIA_ERROR'), 'corruption persists');
    } finally {
      await second.close();
    }
  });
});

test('store: create, exists, list, duplicates, missing labels, one handle per label', async () => {
  await withStore(async (store) => {
    assert.deepEqual(await store.list(), []);
    const a = await store.create({ label: 'B00002', mediaType: 'LTO-9', capacityBytes: MB });
    await store.create({ label: 'A00001', mediaType: 'LTO-9', capacityBytes: MB });
    await assert.rejects(store.create({ label: 'B00002', mediaType: 'LTO-9', capacityBytes: MB }), code('EXISTS'));
    await assert.rejects(store.open('NOPE01'), code('NOT_FOUND'));
    await assert.rejects(store.open('../etc'), code('USERERROR'));
    assert.equal(await store.exists('A00001'), true);
    assert.equal(await store.exists('NOPE01'), false);
    assert.deepEqual(await store.list(), ['A00001', 'B00002']);
    const [x, y] = await Promise.all([store.open('B00002'), store.open('B00002')]);
    assert.equal(x, a);
    assert.equal(y, a);
  });
});

test('a duplicate is refused even by a second store on the same directory', async () => {
  await withStore(async (store, dir) => {
    await store.create({ label: 'VOL001', mediaType: 'LTO-9', capacityBytes: MB });
    const other = new CartridgeStore(dir);
    await assert.rejects(other.create({ label: 'VOL001', mediaType: 'LTO-9', capacityBytes: MB }), code('EXISTS'));
    await other.close();
  });
});

test('no file handles leaked', { skip: process.platform !== 'linux' && 'needs /proc' }, () => {
  // Fewer is fine (the runner may close a handle it had at start); more is a leak.
  assert.ok(openFds() <= fdsAtStart, `fds: ${fdsAtStart} at start, ${openFds()} now`);
});
