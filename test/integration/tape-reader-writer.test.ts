import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isTapestryError } from '../../src/errors/index.ts';
import { Cartridge } from '../../hardware-sim/cartridge.ts';
import { CartridgeDrive } from '../../export/cartridge-drive.ts';
import { copyCartridgePrefix } from '../../export/cartridge-copy.ts';
import type { VolumeMetadata } from '../../export/format.ts';
import { verifyTape } from '../../export/verify-tape.ts';
import { writeFile as writeTapeFile } from '../../movers/tape-io.ts';
import { restoreFiles } from '../../tools/tape-reader/restore.ts';
import { writeTape } from '../../tools/tape-writer/write-tape.ts';
import { runBin } from '../helpers/cli.ts';
import { pieces } from '../helpers/streams.ts';

/**
 * The stand-alone tape tools on temporary directories, no database:
 * tapestry-tape-writer makes a cartridge + metadata, tapestry-tape-reader
 * restores it byte for byte, and the import's verification (verify-tape.ts)
 * accepts it and lists every way a tampered metadata or tape disagrees.
 */
const REPO = path.resolve(import.meta.dirname, '../..');
const READER = path.join(REPO, 'bin/tapestry-tape-reader.js');
const WRITER = path.join(REPO, 'bin/tapestry-tape-writer.js');
const BLOCK = 64 * 1024;

const openFds = (): number => readdirSync('/proc/self/fd').length;
const fdsAtStart = openFds();
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let dir = '';
/** Local source files: sizes around block and cpio boundaries, an empty one, a path with a space. */
const sources: { name: string; data: Buffer; ns: string }[] = [
  { name: 'run1.dat', data: randomBytes(3 * BLOCK + 17), ns: '/exp/raw/run1.dat' },
  { name: 'empty.dat', data: Buffer.alloc(0), ns: '/exp/raw/empty.dat' },
  { name: 'small file.txt', data: randomBytes(511), ns: '/exp/raw/sub dir/small file.txt' },
  { name: 'exact.dat', data: randomBytes(BLOCK), ns: '/exp/other/exact.dat' },
];
let cartDir = '';
let metadata: VolumeMetadata;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tapestry-tapetools-'));
  await mkdir(path.join(dir, 'src'));
  for (const s of sources) await writeFile(path.join(dir, 'src', s.name), s.data);
  cartDir = path.join(dir, 'FT0001L9');
  metadata = await writeTape({
    cartridgeDir: cartDir, label: 'FT0001L9', mediaType: 'LTO9', capacityBytes: 64 * 1024 * 1024, blockSize: BLOCK,
    storageGroup: 'exp', fileFamily: 'foreign', exportedBy: 'test', files: sources.map((s) => ({ source: path.join(dir, 'src', s.name), path: s.ns })),
  });
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
  assert.ok(openFds() <= fdsAtStart + 2, `file descriptors leaked: ${fdsAtStart} at start, ${openFds()} at the end`);
});

/** Metadata with one change applied to a deep copy. */
function tampered(change: (m: { volume: Record<string, unknown>; files: Record<string, unknown>[] }) => void): VolumeMetadata {
  const copy = structuredClone(metadata) as unknown as { volume: Record<string, unknown>; files: Record<string, unknown>[] };
  change(copy);
  return copy as unknown as VolumeMetadata;
}

async function verify(cartridge: string, m: VolumeMetadata) {
  const cart = await Cartridge.open(cartridge, m.volume.label, { readOnly: true });
  try {
    return await verifyTape(cart, m);
  } finally {
    await cart.close();
  }
}

test('writer: VOL1 + one cpio archive per file + filemark each; metadata describes it', async () => {
  const cart = await Cartridge.open(cartDir, 'FT0001L9', { readOnly: true });
  try {
    assert.equal(cart.filemarkCount, 1 + sources.length, 'VOL1 and every file closed by a filemark');
    assert.equal(cart.mediaType, 'LTO9');
  } finally {
    await cart.close();
  }
  assert.equal(metadata.volume.eodFileNo, sources.length + 1);
  assert.deepEqual(metadata.files.map((f) => [f.fileNo, f.path, f.size, f.bfid]), sources.map((s, i) => [i + 1, s.ns, s.data.length, null]));
  assert.equal(metadata.files[0]!.sanitySize, 65536);
  assert.equal(metadata.files[1]!.adler32, 1, 'adler32 is 1-seeded: an empty file has checksum 1');
});

test('writer → reader: every file restored byte-identical at its namespace path below --out', async () => {
  const out = path.join(dir, 'restored');
  const report = await restoreFiles({ cartridgeDir: cartDir, metadata, out });
  assert.equal(report.ok, true, JSON.stringify(report.files));
  for (const s of sources) {
    const restored = await readFile(path.join(out, ...s.ns.slice(1).split('/')));
    assert.equal(sha(restored), sha(s.data), s.ns);
  }
  const mtime = (await stat(path.join(out, 'exp/raw/run1.dat'))).mtime.toISOString();
  assert.equal(mtime, metadata.files[0]!.modifiedAt, 'the modification time comes back too');
  // No temporary files are left behind.
  assert.deepEqual((await readdir(path.join(out, 'exp/raw'))).sort(), ['empty.dat', 'run1.dat', 'sub dir']);
});

test('reader --file N restores one file; an existing target is refused without --force', async () => {
  const out = path.join(dir, 'one');
  const first = await restoreFiles({ cartridgeDir: cartDir, metadata, out, fileNo: 3 });
  assert.deepEqual(first.files.map((f) => [f.fileNo, f.ok]), [[3, true]]);
  assert.equal(sha(await readFile(path.join(out, 'exp/raw/sub dir/small file.txt'))), sha(sources[2]!.data));
  const again = await restoreFiles({ cartridgeDir: cartDir, metadata, out, fileNo: 3 });
  assert.deepEqual(again.files.map((f) => [f.ok, f.code]), [[false, 'EXISTS']]);
  assert.equal((await restoreFiles({ cartridgeDir: cartDir, metadata, out, fileNo: 3, force: true })).ok, true);
  await assert.rejects(restoreFiles({ cartridgeDir: cartDir, metadata, out, fileNo: 9 }), (e: unknown) => isTapestryError(e, 'NO_SUCH_FILE') && /no file 9 \(files: 1, 2, 3, 4\)/.test(e.message));
});

test('reader: a wrong adler32 in the metadata leaves nothing at that path and fails only that file', async () => {
  const out = path.join(dir, 'bad-crc');
  const bad = tampered((m) => (m.files[0]!.adler32 = (m.files[0]!.adler32 as number) ^ 1));
  const report = await restoreFiles({ cartridgeDir: cartDir, metadata: bad, out });
  assert.equal(report.ok, false);
  assert.deepEqual(report.files.map((f) => [f.fileNo, f.code]), [[1, 'CRC_MISMATCH'], [2, null], [3, null], [4, null]]);
  assert.match(report.files[0]!.message!, /file 1 \(\/exp\/raw\/run1\.dat\): adler32 of the bytes on tape is 0x[0-9a-f]{8} \(\d+\), the metadata says/);
  await assert.rejects(stat(path.join(out, 'exp/raw/run1.dat')), 'no file at the target of a failed verification');
  assert.deepEqual((await readdir(path.join(out, 'exp/raw'))).sort(), ['empty.dat', 'sub dir'], 'and no temporary file either');
});

test('reader: the wrong tape (label) is refused before anything is written', async () => {
  const other = tampered((m) => (m.volume.label = 'FT0002L9'));
  const out = path.join(dir, 'wrong-tape');
  await assert.rejects(restoreFiles({ cartridgeDir: cartDir, metadata: other, out }), (e: unknown) => isTapestryError(e, 'LABEL_MISMATCH'));
  await assert.rejects(stat(out));
});

test('import verification: the writer\'s tape matches its metadata; every tampering is listed', async () => {
  assert.deepEqual(await verify(cartDir, metadata), []);
  const bad = tampered((m) => {
    m.files[0]!.adler32 = 12345;
    m.files[1]!.size = 10;
    m.files[2]!.path = '/exp/raw/renamed.txt';
  });
  const problems = await verify(cartDir, bad);
  assert.deepEqual(problems.map((p) => [p.fileNo, p.code]), [[1, 'CRC_MISMATCH'], [2, 'BAD_FILE_SIZE'], [3, 'CONFLICT']]);
  assert.match(problems[1]!.message, /file 2 \(\/exp\/raw\/empty\.dat\): the cpio header on tape gives 0 bytes, the metadata 10/);
  assert.match(problems[2]!.message, /the cpio header on tape names "exp\/raw\/sub dir\/small file\.txt", the metadata "exp\/raw\/renamed\.txt"/);

  const short = tampered((m) => {
    m.volume.eodFileNo = 4;
    m.files.pop();
  });
  assert.deepEqual((await verify(cartDir, short)).map((p) => p.message), ['the tape holds 1 complete file(s) after file 3 that the metadata does not list (its eod_file_no is 4)']);
  const long = tampered((m) => (m.volume.eodFileNo = 7));
  assert.match((await verify(cartDir, long))[0]!.message, /the tape holds 4 complete file\(s\) after VOL1, the metadata's end-of-data is file 7/);
});

test('export copy: only the files before end-of-data travel; the copy reads back verified', async () => {
  // A tape with a fifth file and a torn tail, exported as if the catalogue's end-of-data were 5.
  const grown = path.join(dir, 'grown');
  await rm(grown, { recursive: true, force: true });
  const copyOf = path.join(dir, 'grown-src');
  await rm(copyOf, { recursive: true, force: true });
  const src = await writeTape({
    cartridgeDir: copyOf, label: 'FT0003L9', mediaType: 'LTO9', capacityBytes: 64 * 1024 * 1024, blockSize: BLOCK,
    storageGroup: 'exp', fileFamily: 'foreign', exportedBy: 'test', files: sources.map((s) => ({ source: path.join(dir, 'src', s.name), path: s.ns })),
  });
  const cart = await Cartridge.open(copyOf, 'FT0003L9');
  const drive = new CartridgeDrive(cart);
  await drive.spaceToEndOfData();
  const extra = randomBytes(1000);
  await writeTapeFile(drive, { meta: { name: '/late.dat' }, source: pieces(extra), blockSize: BLOCK, expectedSize: extra.length });
  await drive.writeBlock(randomBytes(100)); // a write in progress: blocks without a filemark
  await cart.close();

  await copyCartridgePrefix(copyOf, 'FT0003L9', grown, src.volume.eodFileNo);
  const copy = await Cartridge.open(grown, 'FT0003L9', { readOnly: true });
  try {
    assert.equal(copy.filemarkCount, src.volume.eodFileNo);
    assert.equal(copy.recordCount, copy.fileStart(src.volume.eodFileNo), 'nothing after the last exported filemark');
  } finally {
    await copy.close();
  }
  assert.deepEqual(await verify(grown, src), []);
  const out = path.join(dir, 'from-copy');
  assert.equal((await restoreFiles({ cartridgeDir: grown, metadata: src, out })).ok, true);
  assert.equal(sha(await readFile(path.join(out, 'exp/raw/run1.dat'))), sha(sources[0]!.data));
  // The catalogue claiming more than is on tape is refused, not papered over.
  await assert.rejects(copyCartridgePrefix(copyOf, 'FT0003L9', path.join(dir, 'too-far'), 9), (e: unknown) => isTapestryError(e, 'CONFLICT'));
  await assert.rejects(stat(path.join(dir, 'too-far')));
});

test('writer: bad input is refused before a cartridge is made, listing every problem', async () => {
  const target = path.join(dir, 'never');
  await assert.rejects(
    writeTape({
      cartridgeDir: target, label: 'ft1', mediaType: 'LTO9', capacityBytes: 1e9, blockSize: BLOCK, storageGroup: 'exp', fileFamily: 'raw data', exportedBy: 'test',
      files: [{ source: path.join(dir, 'src/run1.dat'), path: '/a/x' }, { source: path.join(dir, 'missing'), path: '/a/x' }],
    }),
    (e: unknown) => {
      assert.ok(isTapestryError(e, 'USERERROR'));
      for (const re of [/label "ft1": Tapestry volume labels are 6 to 8 capital letters/, /illegal value "raw data" for tag file_family/, /\/a\/x: two files would get this namespace path/, /missing: no such file/]) {
        assert.match(e.message, re);
      }
      return true;
    },
  );
  await assert.rejects(stat(target));
  // An existing cartridge is never written over.
  await assert.rejects(
    writeTape({ cartridgeDir: cartDir, label: 'FT0001L9', mediaType: 'LTO9', capacityBytes: 1e9, blockSize: BLOCK, storageGroup: 'exp', fileFamily: 'raw', exportedBy: 'test', files: [{ source: path.join(dir, 'src/run1.dat'), path: '/a/x' }] }),
    (e: unknown) => isTapestryError(e, 'USERERROR') && /exists and is not empty/.test(e.message),
  );
});

test('the binaries: writer then reader, exit codes 0, 1 (a file failed) and 2 (usage)', async () => {
  const meta = path.join(dir, 'bin-meta');
  const w = await runBin(WRITER, ['--cartridge', path.join(dir, 'FT0004L9'), '--label', 'FT0004L9', '--block-size', '64KiB', '--out', meta,
    path.join(dir, 'src/run1.dat'), path.join(dir, 'src/exact.dat'), '--as', '/x/one.dat', '--as', '/x/two.dat']);
  assert.equal(w.code, 0, w.stderr);
  assert.match(w.stdout, /^1\s+196625\s+[0-9a-f]{8}\s+\/x\/one\.dat$/m);
  const metaFile = path.join(meta, 'FT0004L9.metadata.json');
  const r = await runBin(READER, [path.join(dir, 'FT0004L9'), metaFile, '--out', path.join(dir, 'bin-out')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^2\s+65536\s+[0-9a-f]{8}\s+ok\s+\/x\/two\.dat\s+\S+\/bin-out\/x\/two\.dat$/m);
  assert.equal(sha(await readFile(path.join(dir, 'bin-out/x/two.dat'))), sha(sources[3]!.data));

  const doc = JSON.parse(await readFile(metaFile, 'utf8')) as { files: { adler32: number; adler32_hex: string }[] };
  doc.files[1]!.adler32 = (doc.files[1]!.adler32 + 1) >>> 0;
  doc.files[1]!.adler32_hex = doc.files[1]!.adler32.toString(16).padStart(8, '0');
  await writeFile(path.join(dir, 'tampered.json'), JSON.stringify(doc));
  const bad = await runBin(READER, [path.join(dir, 'FT0004L9'), path.join(dir, 'tampered.json'), '--out', path.join(dir, 'bin-bad')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /CRC_MISMATCH: file 2 \(\/x\/two\.dat\)/);
  assert.match(bad.stderr, /1 of 2 file\(s\) not restored/);

  const usage = await runBin(READER, [path.join(dir, 'FT0004L9')]);
  assert.equal(usage.code, 2);
  const mismatch = await runBin(WRITER, ['--cartridge', path.join(dir, 'FT0005L9'), '--label', 'FT0005L9', '--out', meta, path.join(dir, 'src/run1.dat'), '--as', '/a', '--as', '/b']);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.stderr, /2 --as path\(s\) for 1 file\(s\)/);
});
