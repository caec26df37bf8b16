import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isTapestryError, type ErrorCode } from '../../src/errors/index.ts';
import {
  CPIO_ODC_MAX_FILE_SIZE,
  cpioArchiveSize,
  cpioHeader,
  cpioTrailer,
  unwrapCpio,
  wrapCpio,
  type CpioMetaInit,
} from '../../movers/cpio-odc.ts';
import { collect, pieces } from '../helpers/streams.ts';

const SIZES = [0, 1, 511, 512, 513, 1024 * 1024 + 7];
const code = (c: ErrorCode) => (err: unknown): boolean => isTapestryError(err, c);

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tapestry-cpio-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function gnuCpio(args: string[], cwd: string, input?: Buffer): { stdout: Buffer; stderr: string } {
  const r = spawnSync('cpio', args, { cwd, input, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, `cpio ${args.join(' ')} failed: ${r.stderr?.toString()}`);
  return { stdout: r.stdout, stderr: r.stderr.toString() };
}

async function archiveOf(meta: CpioMetaInit, data: Buffer): Promise<Buffer> {
  return collect(wrapCpio(meta, pieces(data)));
}

test('cpio: archives of 0, 1, 511, 512, 513 and 1 MiB+7 bytes are extracted byte-identical by GNU cpio', async () => {
  await withTemp(async (dir) => {
    for (const size of SIZES) {
      const data = randomBytes(size);
      const name = `/exp/raw/run-${size}.dat`;
      const mtime = 1_700_000_000;
      const archive = await archiveOf({ name, size, mtime, mode: 0o100640, uid: 1234, gid: 5678 }, data);
      assert.equal(archive.length % 512, 0, `size ${size}: archive length ${archive.length}`);
      assert.equal(archive.length, cpioArchiveSize({ name, size }));
      assert.equal(archive.toString('latin1', 0, 6), '070707');
      const out = path.join(dir, `x-${size}`);
      await mkdir(out);
      const { stderr } = gnuCpio(['-idv', '--no-absolute-filenames', '--preserve-modification-time'], out, archive);
      assert.match(stderr, new RegExp(`exp/raw/run-${size}\\.dat`));
      assert.deepEqual(await readFile(path.join(out, 'exp/raw', `run-${size}.dat`)), data, `size ${size}`);
      // GNU cpio's own listing agrees on size and mode.
      const listing = gnuCpio(['-tv'], out, archive).stdout.toString();
      assert.match(listing, new RegExp(`^-rw-r-----\\s.*\\s${size}\\s.*exp/raw/run-${size}\\.dat$`, 'm'));
    }
  });
});

test('cpio: unwrapCpio returns the header fields and exactly the data, whatever the chunking', async () => {
  for (const size of SIZES) {
    const data = randomBytes(size);
    const meta = { name: 'exp/raw/f.dat', size, mtime: 1_700_000_123, mode: 0o100600, uid: 42, gid: 43, ino: 7, dev: 3 };
    const archive = await archiveOf(meta, data);
    for (const maxPiece of [1, 7, 512, 100_000]) {
      if (maxPiece === 1 && size > 4096) continue; // byte-at-a-time over 1 MiB adds nothing but time
      const { meta: got, data: body } = await unwrapCpio(pieces(archive, maxPiece));
      assert.deepEqual(got, { ...meta, nlink: 1, rdev: 0 });
      assert.deepEqual(await collect(body), data, `size ${size}, pieces ≤ ${maxPiece}`);
    }
  }
});

test('cpio: archives written by GNU cpio (-H odc) unwrap', async () => {
  await withTemp(async (dir) => {
    for (const size of [0, 513, 70_001]) {
      const data = randomBytes(size);
      await mkdir(path.join(dir, 'd'), { recursive: true });
      await writeFile(path.join(dir, 'd', `g-${size}`), data);
      const archive = gnuCpio(['-o', '-H', 'odc', '--quiet'], dir, Buffer.from(`d/g-${size}\n`)).stdout;
      const { meta, data: body } = await unwrapCpio(pieces(archive, 1000));
      assert.equal(meta.name, `d/g-${size}`);
      assert.equal(meta.size, size);
      assert.deepEqual(await collect(body), data);
    }
  });
});

test('cpio: the header and trailer are laid out as POSIX odc', () => {
  const head = cpioHeader({ name: '/a/b', size: 10, mtime: 8, mode: 0o644, uid: 1, gid: 2 });
  assert.equal(
    head.toString('latin1'),
    '070707' + '000000' + '000000' + '100644' + '000001' + '000002' + '000001' + '000000' + '00000000010' + '000004' + '00000000012' + 'a/b\0',
  );
  const trailer = cpioTrailer(head.length + 10);
  assert.equal(
    trailer.toString('latin1', 0, 87),
    '070707' + '000000'.repeat(5) + '000001' + '000000' + '00000000000' + '000013' + '00000000000' + 'TRAILER!!!\0',
  );
  assert.equal((head.length + 10 + trailer.length) % 512, 0);
  assert.ok(trailer.subarray(87).every((b) => b === 0));
});

test('cpio: ids that do not fit 6 octal digits become nobody/nogroup; dev and ino wrap', () => {
  const head = cpioHeader({ name: 'x', size: 0, uid: 300_000, gid: -1, ino: 8 ** 6 + 5, dev: 2 ** 40 });
  const t = head.toString('latin1');
  assert.equal(t.slice(24, 30), (65534).toString(8).padStart(6, '0'));
  assert.equal(t.slice(30, 36), (65534).toString(8).padStart(6, '0'));
  assert.equal(t.slice(12, 18), '000005');
  assert.equal(t.slice(6, 12), '000000');
});

test('cpio: a source longer or shorter than the size → BAD_FILE_SIZE; the extra chunk is not yielded', async () => {
  const data = randomBytes(1000);
  const yielded: number[] = [];
  const tooLong = async () => {
    for await (const c of wrapCpio({ name: 'f', size: 999 }, pieces(data, 300))) yielded.push(c.length);
  };
  await assert.rejects(tooLong(), code('BAD_FILE_SIZE'));
  assert.ok(yielded.slice(1).reduce((a, b) => a + b, 0) <= 999, 'no more data bytes than announced were yielded');
  await assert.rejects(collect(wrapCpio({ name: 'f', size: 1001 }, pieces(data))), code('BAD_FILE_SIZE'));
});

test('cpio: files over 8 GiB − 1 and impossible names → USERERROR before any byte', async () => {
  await assert.rejects(collect(wrapCpio({ name: 'big', size: CPIO_ODC_MAX_FILE_SIZE + 1 }, pieces(Buffer.alloc(0)))), (err: unknown) =>
    code('USERERROR')(err) && /file too large for the cpio_odc wrapper \(max 8 GiB − 1/.test((err as Error).message));
  assert.equal(cpioHeader({ name: 'max', size: CPIO_ODC_MAX_FILE_SIZE }).toString('latin1', 65, 76), '77777777777');
  for (const name of ['', '/', 'a/../b', 'nul\0', 'TRAILER!!!']) assert.throws(() => cpioHeader({ name, size: 0 }), code('USERERROR'), JSON.stringify(name));
});

test('cpio: bad archives → MALFORMED', async () => {
  const data = randomBytes(600);
  const good = await archiveOf({ name: 'exp/f', size: 600 }, data);
  const trailerAt = 76 + 6 + 600;
  const patch = (at: number, text: string): Buffer => {
    const b = Buffer.from(good);
    b.write(text, at, 'latin1');
    return b;
  };
  const bad: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['bad magic', patch(0, '070701')],
    ['non-octal field', patch(66, '9')],
    ['truncated header', good.subarray(0, 50)],
    ['truncated name', good.subarray(0, 79)],
    ['name without NUL', patch(76 + 5, 'x')],
    ['truncated data', good.subarray(0, 76 + 6 + 300)],
    ['no trailer', good.subarray(0, trailerAt)],
    ['second entry instead of trailer', patch(trailerAt + 76, 'TRAILER!!?')],
    ['trailer with data', patch(trailerAt + 65, '00000000001')],
    ['garbage after the trailer', patch(good.length - 1, 'x')],
    ['length not a multiple of 512', good.subarray(0, good.length - 1)],
    ['only a trailer', cpioTrailer(0)],
    ['a tar file', Buffer.concat([Buffer.from('ustar'), Buffer.alloc(507)])],
  ];
  for (const [what, archive] of bad) {
    const attempt = async () => collect((await unwrapCpio(pieces(archive, 100))).data);
    await assert.rejects(attempt(), code('MALFORMED'), what);
  }
});

test('cpio: a consumer that stops early releases the source', async () => {
  const archive = await archiveOf({ name: 'f', size: 100_000 }, randomBytes(100_000));
  let released = false;
  async function* source() {
    try {
      yield* pieces(archive, 1000);
    } finally {
      released = true;
    }
  }
  const { data } = await unwrapCpio(source());
  for await (const _ of data) break;
  assert.ok(released);
});
