import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { appendFile, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { isTapestryError, type ErrorCode } from '../../src/errors/index.ts';
import { CartridgeStore } from '../../hardware-sim/cartridge-store.ts';
import { Cartridge, INDEX_RECORD_BYTES, STAGING_BUFFER_BYTES } from '../../hardware-sim/cartridge.ts';

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
    await cart.writeFilemarks(3, 0); // flush the write-behind buffer (`mt weof 0`): the files now hold every record
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
    await cart.writeFilemarks(cart.recordCount, 0); // flush the write-behind buffer, as before an export
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

test('the read-ahead never serves stale bytes: a rewrite or a corruption after a read is what the next read sees', async () => {
  await withStore(async (store) => {
    const cart = await store.create({ label: 'VOL001', mediaType: 'LTO-9', capacityBytes: 10 * MB });
    const layout = await writeThreeFiles(cart);
    await cart.writeFilemarks(8, 0);
    // Reading record 2 reads ahead over 3 and 4 (one file, contiguous in data).
    assert.deepEqual(await cart.readRecord(2), { kind: 'data', data: layout[2] });
    await store.corruptRecord('VOL001', 3);
    await assert.rejects(cart.readRecord(3), code('MEDIA_ERROR'), 'the corruption is seen, not the bytes read ahead');
    assert.deepEqual(await cart.readRecord(4), { kind: 'data', data: layout[4] });
    const replacement = randomBytes(333);
    await cart.writeBlock(3, replacement); // rewrite from record 3: 4.. are gone
    await cart.writeFilemarks(4, 0);
    assert.deepEqual(await cart.readRecord(2), { kind: 'data', data: layout[2] });
    assert.deepEqual(await cart.readRecord(3), { kind: 'data', data: replacement });
    await assert.rejects(cart.readRecord(4), code('BLANK_CHECK'));
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

// --- write-behind buffer -------------------------------------------------------

const KiB = 1024;
/** Blocks of this size fill a staging buffer in exactly BLOCKS_PER_STAGE. */
const BLOCK = 256 * KiB;
const BLOCKS_PER_STAGE = STAGING_BUFFER_BYTES / BLOCK;
const delay = (ms: number): Promise<false> => new Promise((resolve) => setTimeout(() => resolve(false), ms));
const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

interface DataHooks {
  write?: (real: FileHandle, args: unknown[]) => Promise<unknown>;
  datasync?: (real: FileHandle) => Promise<void>;
}

/**
 * Test hook: wrap the cartridge's (private) `data` FileHandle to delay or fail
 * its writes, or count its syncs. Returns the function that puts the real one back.
 */
function hookData(cart: Cartridge, hooks: DataHooks): () => void {
  const holder = cart as unknown as { dataFh: FileHandle };
  const real = holder.dataFh;
  holder.dataFh = new Proxy(real, {
    get(target, prop) {
      if (prop === 'write' && hooks.write) return (...args: unknown[]) => hooks.write!(target, args);
      if (prop === 'datasync' && hooks.datasync) return () => hooks.datasync!(target);
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return () => {
    holder.dataFh = real;
  };
}

function realWrite(fh: FileHandle, args: unknown[]): Promise<unknown> {
  return (fh.write as (...a: unknown[]) => Promise<unknown>).apply(fh, args);
}

/** A cartridge holding file 0 (an 80-byte label) and its filemark, both on disk. */
async function labelled(store: CartridgeStore): Promise<{ cart: Cartridge; layout: (Buffer | 'FM')[] }> {
  const cart = await store.create({ label: 'VOL001', mediaType: 'LTO-9', capacityBytes: 1000 * MB });
  const label = randomBytes(80);
  await cart.writeBlock(0, label);
  await cart.writeFilemarks(1, 1);
  return { cart, layout: [label, 'FM'] };
}

/** Append `count` random blocks at end-of-data, remembering them in `layout`. */
async function append(cart: Cartridge, layout: (Buffer | 'FM')[], count: number, size = BLOCK): Promise<void> {
  for (let i = 0; i < count; i++) {
    const block = randomBytes(size);
    await cart.writeBlock(layout.length, block);
    layout.push(block);
  }
}

test('appended blocks are staged, then read back before any filemark (a read drains the buffer)', async () => {
  await withStore(async (store, dir) => {
    const { cart, layout } = await labelled(store);
    const dataPath = path.join(dir, 'VOL001', 'data');
    await append(cart, layout, 3, 100 * KiB);
    // Acknowledged and counted, but still in the buffer: nothing reached the file.
    assert.equal(cart.recordCount, 5);
    assert.equal(cart.usedBytes, 80 + 300 * KiB);
    assert.equal(cart.bufferedBytes, 300 * KiB);
    assert.equal((await stat(dataPath)).size, 80);

    assert.deepEqual(await cart.readRecord(3), { kind: 'data', data: layout[3] });
    assert.equal(cart.bufferedBytes, 0);
    assert.equal((await stat(dataPath)).size, 80 + 300 * KiB);
    // A block bigger than a staging buffer is written through, after what is staged.
    await append(cart, layout, 2, 50 * KiB);
    await append(cart, layout, 1, STAGING_BUFFER_BYTES + 1);
    assert.equal(cart.bufferedBytes, 0);
    await append(cart, layout, 3 * BLOCKS_PER_STAGE + 1); // several buffers' worth, one left staged
    assert.deepEqual(await readAll(cart), layout);
    assert.deepEqual(cart.positionOf(layout.length), { fileNo: 1, record: layout.length, bytes: cart.usedBytes });
  });
});

test('a crash with blocks staged keeps the flushed whole records and the last filemark\'s files', async () => {
  await withStore(async (store, dir) => {
    const { cart, layout } = await labelled(store);
    // Two buffers' worth plus three: the first buffer is surely on disk (the
    // 17th block waited for it to be free), the second maybe, the last three never.
    await append(cart, layout, 2 * BLOCKS_PER_STAGE + 3);
    assert.equal(cart.bufferedBytes > 0, true);
    // "Crash": snapshot the directory now, without draining or closing. Index
    // before data, so every record in the copied index has its payload in the copy.
    const cdir = path.join(dir, 'VOL001');
    const crashed = path.join(dir, 'CRASHED');
    await mkdir(crashed);
    for (const f of ['meta.json', 'index', 'data']) await copyFile(path.join(cdir, f), path.join(crashed, f));

    const again = await Cartridge.open(crashed, 'VOL001');
    try {
      const kept = again.recordCount;
      assert.ok(kept >= 2 + BLOCKS_PER_STAGE && kept <= 2 + 2 * BLOCKS_PER_STAGE, `kept ${kept} records`);
      assert.equal(again.filemarkCount, 1);
      assert.equal(again.fileStart(1), 2);
      assert.deepEqual(await readAll(again), layout.slice(0, kept));
      assert.equal((await stat(path.join(crashed, 'data'))).size, again.usedBytes, 'surplus data trimmed');
    } finally {
      await again.close();
    }
    // The live cartridge lost nothing: the filemark drains the buffer.
    await cart.writeFilemarks(layout.length, 1);
    layout.push('FM');
    await store.close();
    assert.deepEqual(await readAll(await store.open('VOL001')), layout);
  });
});

test('overwriting in the middle of staged appends drops the rest, on disk too', async () => {
  await withStore(async (store, dir) => {
    const { cart, layout } = await labelled(store);
    await append(cart, layout, BLOCKS_PER_STAGE + 3); // one buffer flushing or flushed, three staged
    const fresh = randomBytes(1000);
    const at = 2 + BLOCKS_PER_STAGE - 2; // inside the first buffer
    await cart.writeBlock(at, fresh);
    const expected = [...layout.slice(0, at), fresh];
    assert.equal(cart.recordCount, at + 1);
    assert.deepEqual(await readAll(cart), expected);
    await cart.writeFilemarks(at + 1, 1);
    expected.push('FM');
    assert.equal((await stat(path.join(dir, 'VOL001', 'index'))).size, expected.length * INDEX_RECORD_BYTES);
    assert.equal((await stat(path.join(dir, 'VOL001', 'data'))).size, 80 + (at - 2) * BLOCK + 1000);
    await store.close();
    const again = await store.open('VOL001');
    assert.deepEqual(again.repair, { indexBytesTrimmed: 0, dataBytesTrimmed: 0 });
    assert.deepEqual(await readAll(again), expected);
  });
});

test('a failed flush (ENOSPC) is reported by the next operation, and nothing is built on the lost blocks', async () => {
  await withStore(async (store) => {
    const { cart, layout } = await labelled(store);
    const restore = hookData(cart, { write: async () => Promise.reject(enospc()) });
    // Appends are acknowledged from the buffer; the first buffer's failed flush
    // surfaces at the latest on the block that needs that buffer again.
    let failure: unknown = null;
    for (let n = 2; n <= 2 + 2 * BLOCKS_PER_STAGE && failure === null; n++) {
      await cart.writeBlock(n, randomBytes(BLOCK)).catch((err: unknown) => (failure = err));
    }
    assert.ok(isTapestryError(failure, 'MEDIA_ERROR'), `expected MEDIA_ERROR, got ${String(failure)}`);
    assert.equal((failure.cause as NodeJS.ErrnoException).code, 'ENOSPC');
    assert.equal(failure.context['record'], 2, 'lost from the first record of the failed buffer');

    // Reported once; after that, nothing may be built on the hole or read from it.
    const end = cart.recordCount;
    await assert.rejects(cart.writeBlock(end, randomBytes(10)), code('MEDIA_ERROR'));
    await assert.rejects(cart.writeFilemarks(end, 1), code('MEDIA_ERROR'));
    await assert.rejects(cart.writeFilemarks(end, 0), code('MEDIA_ERROR'));
    await assert.rejects(cart.readRecord(2), code('MEDIA_ERROR'));
    assert.deepEqual(await cart.readRecord(0), { kind: 'data', data: layout[0] });
    assert.equal(cart.filemarkCount, 1);

    // Rewriting from the last filemark, as a mover does next, clears it.
    restore();
    const fresh = randomBytes(1000);
    await cart.writeBlock(2, fresh);
    await cart.writeFilemarks(3, 1);
    const expected = [...layout, fresh, 'FM'];
    assert.deepEqual(await readAll(cart), expected);
    await store.close();
    const again = await store.open('VOL001');
    assert.deepEqual(again.repair, { indexBytesTrimmed: 0, dataBytesTrimmed: 0 });
    assert.deepEqual(await readAll(again), expected);
  });
});

test('a failed flush fails the filemark that drains it; close() reports one nobody saw', async () => {
  await withStore(async (store, dir) => {
    const { cart, layout } = await labelled(store);
    await append(cart, layout, 3); // staged only
    const restore = hookData(cart, { write: async () => Promise.reject(enospc()) });
    await assert.rejects(cart.writeFilemarks(5, 1), (err) => isTapestryError(err, 'MEDIA_ERROR') && err.context['record'] === 2);
    assert.equal(cart.filemarkCount, 1);
    restore();

    const other = await Cartridge.create(path.join(dir, 'VOL002'), { label: 'VOL002', mediaType: 'LTO-9', capacityBytes: MB });
    await other.writeBlock(0, randomBytes(100));
    hookData(other, { write: async () => Promise.reject(enospc()) });
    await assert.rejects(other.close(), code('MEDIA_ERROR'));
    assert.equal(other.isClosed, true, 'the files are closed all the same');
  });
});

test('memory stays bounded: with both staging buffers busy, writeBlock waits for the disk', async () => {
  await withStore(async (store, dir) => {
    const { cart, layout } = await labelled(store);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let inFlight = 0;
    let maxInFlight = 0;
    const restore = hookData(cart, {
      write: async (real, args) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await gate; // the "disk" does not answer
        try {
          return await realWrite(real, args);
        } finally {
          inFlight--;
        }
      },
    });
    let blocked: Promise<void> | null = null;
    for (let n = 2; blocked === null; n++) {
      const block = randomBytes(BLOCK);
      const write = cart.writeBlock(n, block);
      layout.push(block);
      // An accepted block resolves at once; give a stuck one 100 ms to prove it is stuck.
      if (!(await Promise.race([write.then(() => true), delay(100)]))) blocked = write;
      assert.ok(cart.bufferedBytes <= 2 * STAGING_BUFFER_BYTES, `buffered ${cart.bufferedBytes}`);
      assert.ok(n < 100, 'writeBlock never waited');
    }
    assert.equal(layout.length - 3, 2 * BLOCKS_PER_STAGE, 'two buffers accepted, the next block waits');
    assert.equal((await stat(path.join(dir, 'VOL001', 'data'))).size, 80);
    open();
    await blocked;
    await cart.writeFilemarks(layout.length, 1);
    layout.push('FM');
    assert.equal(maxInFlight, 1, 'one flush at a time');
    restore();
    assert.deepEqual(await readAll(cart), layout);
  });
});

test('progressive durability: data is fdatasynced every 64 MiB while blocks stream, not only at the filemark', async () => {
  for (const syncOnFilemark of [true, false]) {
    await withStore(async (_store, dir) => {
      const cart = await Cartridge.create(path.join(dir, 'VOL001'), { label: 'VOL001', mediaType: 'LTO-9', capacityBytes: 1000 * MB }, { syncOnFilemark });
      try {
        let syncs = 0;
        hookData(cart, {
          datasync: async (real) => {
            syncs++;
            await real.datasync();
          },
        });
        const block = randomBytes(STAGING_BUFFER_BYTES);
        for (let n = 0; n < (72 * 2 ** 20) / block.length; n++) await cart.writeBlock(n, block);
        await cart.readRecord(0); // drains, and waits for a sync in flight
        assert.equal(syncs, syncOnFilemark ? 1 : 0, `syncOnFilemark ${syncOnFilemark}`);
      } finally {
        await cart.close();
      }
    });
  }
});

test('no file handles leaked', { skip: process.platform !== 'linux' && 'needs /proc' }, () => {
  // Fewer is fine (the runner may close a handle it had at start); more is a leak.
  assert.ok(openFds() <= fdsAtStart, `fds: ${fdsAtStart} at start, ${openFds()} now`);
});
