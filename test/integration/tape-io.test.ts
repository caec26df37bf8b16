import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { adler32 } from '../../src/checksum/adler32.ts';
import { isTapestryError, type ErrorCode } from '../../src/errors/index.ts';
import { CartridgeStore } from '../../hardware-sim/cartridge-store.ts';
import type { Cartridge } from '../../hardware-sim/cartridge.ts';
import type { SimDrive } from '../../hardware-sim/drive.ts';
import { cpioArchiveSize } from '../../movers/cpio-odc.ts';
import { SANITY_BYTES, checkLabel, readFile, writeFile, writeLabel } from '../../movers/tape-io.ts';
import { collect, pieces } from '../helpers/streams.ts';
import { TEST_MEDIA, loadedDrive } from '../helpers/tape-rig.ts';

const LABEL = 'TS0001L9';
const BLOCK = TEST_MEDIA.blockSize;

const openFds = (): number => readdirSync('/proc/self/fd').length;
const fdsAtStart = openFds();
const code = (c: ErrorCode) => (err: unknown): boolean => isTapestryError(err, c);

interface Rig {
  readonly drive: SimDrive;
  readonly store: CartridgeStore;
  readonly cart: Cartridge;
}

/** A loaded drive on a VirtualClock that jumps ahead by itself, with a fresh cartridge in a temp tapes dir. */
async function withTape(fn: (rig: Rig) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tapestry-tapeio-'));
  const store = new CartridgeStore(dir);
  try {
    const drive = await loadedDrive(store, LABEL);
    await fn({ drive, store, cart: await store.open(LABEL) });
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

interface TestFile {
  readonly name: string;
  readonly data: Buffer;
}

const file = (name: string, size: number): TestFile => ({ name, data: randomBytes(size) });

function write(drive: SimDrive, f: TestFile, source: AsyncIterable<Uint8Array> = pieces(f.data, 50_000)) {
  return writeFile(drive, { meta: { name: f.name, mtime: 1_700_000_000 }, source, blockSize: BLOCK, expectedSize: f.data.length });
}

/** Read file `fileNo` back and check bytes, CRC and the cpio name. */
async function readBack(drive: SimDrive, fileNo: number, f: TestFile): Promise<void> {
  const reader = readFile(drive, fileNo, { expectedCrc: adler32(f.data), expectedSize: f.data.length });
  const chunks: Buffer[] = [];
  for await (const chunk of reader) {
    assert.ok(chunk.length <= BLOCK, 'chunks are views of single records: memory stays bounded');
    chunks.push(Buffer.from(chunk));
  }
  assert.deepEqual(Buffer.concat(chunks), f.data, `file ${fileNo}`);
  const result = await reader.result;
  assert.equal(result.crc, adler32(f.data));
  assert.equal(result.size, f.data.length);
  assert.equal(result.meta.name, f.name);
  assert.equal(result.tapeBytes, cpioArchiveSize({ name: f.name, size: f.data.length }));
}

/** Block sizes of file `fileNo` as recorded on the cartridge. */
function blockSizes(cart: Cartridge, fileNo: number): number[] {
  const sizes: number[] = [];
  for (let r = cart.fileStart(fileNo); r < cart.recordCount; r++) {
    const info = cart.record(r);
    if (info.type === 'filemark') break;
    sizes.push(info.size);
  }
  return sizes;
}

test('tape-io: label, three files, each read back byte-identical with its CRC, in any order', async () => {
  await withTape(async ({ drive, cart }) => {
    const files = [file('exp/raw/empty.dat', 0), file('exp/raw/small.dat', 10_007), file('exp/raw/big.dat', 300_001)];
    await writeLabel(drive, LABEL);
    for (const f of files) {
      const r = await write(drive, f);
      assert.equal(r.dataBytes, f.data.length);
      assert.equal(r.crc, adler32(f.data));
      assert.equal(r.sanitySize, Math.min(SANITY_BYTES, f.data.length));
      assert.equal(r.sanityCrc, adler32(f.data.subarray(0, SANITY_BYTES)));
      assert.equal(r.tapeBytes, cpioArchiveSize({ name: f.name, size: f.data.length }));
      assert.equal(r.blocks, Math.ceil(r.tapeBytes / BLOCK));
    }
    assert.equal(cart.filemarkCount, 4, 'label + 3 files, one filemark each');
    for (let n = 1; n <= 3; n++) {
      const sizes = blockSizes(cart, n);
      assert.ok(sizes.slice(0, -1).every((s) => s === BLOCK), `file ${n}: every block but the last is full`);
      assert.ok(sizes.at(-1)! > 0 && sizes.at(-1)! <= BLOCK);
    }
    assert.equal(await checkLabel(drive, LABEL), LABEL);
    for (const n of [3, 1, 2, 2, 1]) await readBack(drive, n, files[n - 1]!);
    assert.deepEqual(drive.status().position, { ...drive.status().position!, fileNo: 2, record: cart.fileStart(2) }, 'a read stops at its filemark (no read-ahead past it)');
  });
});

test('tape-io: readFile into reused record buffers gives the same bytes to a consumer that copies each chunk before pulling on', async () => {
  await withTape(async ({ drive }) => {
    const f = file('exp/raw/ring.dat', 5 * BLOCK + 12_345);
    await writeLabel(drive, LABEL);
    await write(drive, f);
    const reader = readFile(drive, 1, { bufferBytes: BLOCK, expectedSize: f.data.length, expectedCrc: adler32(f.data) });
    const copies: Buffer[] = [];
    const views: Buffer[] = [];
    for await (const chunk of reader) {
      copies.push(Buffer.from(chunk));
      views.push(chunk);
    }
    assert.ok(Buffer.concat(copies).equals(f.data), 'the copies taken in time are the file');
    assert.ok(new Set(views.map((v) => v.buffer)).size <= 3, 'the records were read into at most three buffers');
    assert.equal((await reader.result).crc, adler32(f.data));
  });
});

test('tape-io: checkLabel — another label → LABEL_MISMATCH; a blank tape → BLANK_CHECK; a data record → MALFORMED', async () => {
  await withTape(async ({ drive }) => {
    await assert.rejects(checkLabel(drive, LABEL), code('BLANK_CHECK'));
    await writeLabel(drive, 'TS0002L9');
    await assert.rejects(checkLabel(drive, LABEL), code('LABEL_MISMATCH'));
    await drive.rewind();
    await drive.writeBlock(randomBytes(512));
    await assert.rejects(checkLabel(drive, LABEL), code('MALFORMED'));
    await drive.rewind();
    await drive.writeFilemarks(1);
    await assert.rejects(checkLabel(drive, LABEL), code('MALFORMED'));
    await assert.rejects(writeLabel(drive, 'bad label'), code('USERERROR'));
  });
});

test('tape-io: a short source → BAD_FILE_SIZE, no filemark; the next write after the last good filemark appends correctly', async () => {
  await withTape(async ({ drive, cart }) => {
    const first = file('exp/a', 20_000);
    const second = file('exp/b', 50_000);
    await writeLabel(drive, LABEL);
    await write(drive, first);
    const short = async function* () {
      yield second.data.subarray(0, 30_000);
    };
    await assert.rejects(write(drive, second, short()), code('BAD_FILE_SIZE'));
    assert.equal(cart.filemarkCount, 2, 'no filemark after the failed file');
    assert.ok(cart.recordCount > cart.fileStart(2), 'the blocks already written stay on tape');

    await drive.locateFile(2); // after the last good filemark: the partial blocks get overwritten
    await write(drive, second);
    assert.equal(cart.filemarkCount, 3);
    assert.equal(blockSizes(cart, 2).length, Math.ceil(cpioArchiveSize({ name: 'exp/b', size: 50_000 }) / BLOCK), 'nothing of the failed attempt is left');
    await readBack(drive, 2, second);
    await readBack(drive, 1, first);
  });
});

test('tape-io: a source longer than announced → BAD_FILE_SIZE, and no byte beyond the size reaches the tape', async () => {
  await withTape(async ({ drive, cart }) => {
    await writeLabel(drive, LABEL);
    const f = file('exp/long', 40_000);
    const longer = async function* () {
      yield f.data;
      yield Buffer.from('one byte too many');
    };
    await assert.rejects(
      writeFile(drive, { meta: { name: f.name }, source: longer(), blockSize: BLOCK, expectedSize: 40_000 }),
      code('BAD_FILE_SIZE'),
    );
    assert.equal(cart.filemarkCount, 1);
    const onTape = blockSizes(cart, 1).reduce((a, b) => a + b, 0);
    assert.ok(onTape <= 76 + 'exp/long'.length + 1 + 40_000, `${onTape} bytes on tape`);
  });
});

test('tape-io: end of tape in the middle of a file surfaces END_OF_TAPE; earlier files stay readable', async () => {
  await withTape(async ({ drive, cart, store }) => {
    await writeLabel(drive, LABEL);
    const first = file('exp/first', 10_000);
    await write(drive, first);
    await store.setEarlyEndOfTape(LABEL, cart.usedBytes + 20_000);
    await assert.rejects(write(drive, file('exp/too-big', 100_000)), code('END_OF_TAPE'));
    assert.equal(cart.filemarkCount, 2);
    await readBack(drive, 1, first);
    await store.setEarlyEndOfTape(LABEL, null);
    const again = file('exp/fits-now', 100_000);
    await drive.locateFile(2);
    await write(drive, again);
    await readBack(drive, 2, again);
  });
});

test('tape-io: a file over 8 GiB − 1 is refused before anything is written', async () => {
  await withTape(async ({ drive, cart }) => {
    await writeLabel(drive, LABEL);
    const records = cart.recordCount;
    await assert.rejects(
      writeFile(drive, { meta: { name: 'huge' }, source: pieces(Buffer.alloc(0)), blockSize: BLOCK, expectedSize: 8 * 2 ** 30 }),
      code('USERERROR'),
    );
    assert.equal(cart.recordCount, records);
  });
});

test('tape-io: an aborted write stops with the abort reason, without a filemark, and leaves the drive usable', async () => {
  await withTape(async ({ drive, cart }) => {
    await writeLabel(drive, LABEL);
    const controller = new AbortController();
    const f = file('exp/aborted', 200_000);
    const source = async function* () {
      for await (const c of pieces(f.data, 10_000)) {
        yield c;
        controller.abort(new Error('operator cancelled'));
      }
    };
    await assert.rejects(
      writeFile(drive, { meta: { name: f.name }, source: source(), blockSize: BLOCK, expectedSize: f.data.length, signal: controller.signal }),
      /operator cancelled/,
    );
    assert.equal(cart.filemarkCount, 1);
    await drive.locateFile(1);
    await write(drive, f);
    await readBack(drive, 1, f);
  });
});

test('tape-io: readFile — wrong CRC → CRC_MISMATCH after the data; wrong size → BAD_FILE_SIZE before it; bad block → MEDIA_ERROR', async () => {
  await withTape(async ({ drive, cart }) => {
    await writeLabel(drive, LABEL);
    const f = file('exp/f', 30_000);
    const { crc } = await write(drive, f);

    const wrongCrc = readFile(drive, 1, { expectedCrc: (crc + 1) >>> 0 });
    let bytes = 0;
    await assert.rejects(
      (async () => {
        for await (const c of wrongCrc) bytes += c.length;
      })(),
      code('CRC_MISMATCH'),
    );
    assert.equal(bytes, f.data.length, 'the mismatch is known only after the last byte');
    await assert.rejects(wrongCrc.result, code('CRC_MISMATCH'));

    const wrongSize = readFile(drive, 1, { expectedSize: 29_999 });
    await assert.rejects(collect(wrongSize), code('BAD_FILE_SIZE'));
    await drive.locateFile(1); // the record read ahead has settled: the drive is idle

    await cart.corruptRecord(cart.fileStart(1) + 2);
    await assert.rejects(collect(readFile(drive, 1)), code('MEDIA_ERROR'));
  });
});

test('tape-io: a reader that stops early rejects its result and leaves the drive idle', async () => {
  await withTape(async ({ drive }) => {
    await writeLabel(drive, LABEL);
    const f = file('exp/f', 100_000);
    await write(drive, f);
    const reader = readFile(drive, 1);
    for await (const _ of reader) break;
    await assert.rejects(reader.result, /stopped before its end/);
    await readBack(drive, 1, f); // the drive is not left busy by the read-ahead
  });
});

test('tape-io: readFile refuses file 0 and reports a file past the end as BLANK_CHECK', async () => {
  await withTape(async ({ drive }) => {
    await writeLabel(drive, LABEL);
    assert.throws(() => readFile(drive, 0), code('USERERROR'));
    await assert.rejects(collect(readFile(drive, 2)), code('BLANK_CHECK'));
    await assert.rejects(collect(readFile(drive, 1)), code('BLANK_CHECK'), 'file 1 of a labelled-only tape: end of data');
  });
});

test('tape-io: no file descriptors leaked', () => {
  assert.ok(openFds() <= fdsAtStart, `fds: ${fdsAtStart} at start, ${openFds()} now`);
});
