import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { parseCsv } from '../../export/csv.ts';
import { encp, runBin, tapestry, type CliResult, type RunningTapestry } from '../helpers/cli.ts';
import { withSystem } from '../helpers/system-fixture.ts';
import type { TestInstallation } from '../helpers/system-config.ts';

/**
 * Export and import as operators drive them, against one `tapestry start`:
 * a tape made by tapestry-tape-writer is imported and read back with encp;
 * tampered metadata is refused naming the file; a volume written with encp is
 * exported, the service stopped, and tapestry-tape-reader (no server, no
 * database) restores its files byte-identical from the exported copy.
 */
const REPO = path.resolve(import.meta.dirname, '../..');
const READER = path.join(REPO, 'bin/tapestry-tape-reader.js');
const WRITER = path.join(REPO, 'bin/tapestry-tape-writer.js');

let inst: TestInstallation;
let sys: RunningTapestry;
let env: NodeJS.ProcessEnv;
let work: string;
let tapesDir: string;

const sha = async (f: string): Promise<string> => createHash('sha256').update(await fs.readFile(f)).digest('hex');

async function cli(args: string[]): Promise<string> {
  const r = await tapestry(args, env);
  assert.equal(r.code, 0, `tapestry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function fails(code: number, pattern: RegExp, args: string[]): Promise<CliResult> {
  const r = await tapestry(args, env);
  assert.equal(r.code, code, `tapestry ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace instead of a message');
  return r;
}

async function localFile(name: string, size: number): Promise<string> {
  const f = path.join(work, name);
  await fs.writeFile(f, randomBytes(size));
  return f;
}

async function encpOk(args: string[]): Promise<void> {
  const r = await encp(args, env);
  assert.equal(r.code, 0, `encp ${args.join(' ')}: ${r.stderr}`);
}

withSystem({
    timeScale: 0.001,
    replace: [[/^    dismount_delay: 60s/m, '    dismount_delay: 1s'], [/^    block_size: 256KiB/m, '    block_size: 64KiB']],
  }, (s) => {
  ({ inst, sys, env, work } = s);
  tapesDir = path.join(s.inst.dir, 'var', 'tapes');
});

test('a tape made by tapestry-tape-writer: tampered metadata refused naming the file, then imported and read back with encp', async () => {
  const files = [await localFile('f1.dat', 200_000), await localFile('f2.dat', 65_536), await localFile('f3.dat', 1)];
  const cartridge = path.join(work, 'FT0001L9');
  const meta = path.join(work, 'meta');
  const w = await runBin(WRITER, ['--cartridge', cartridge, '--label', 'FT0001L9', '--block-size', '64KiB', '--file-family', 'foreign', '--out', meta, ...files]);
  assert.equal(w.code, 0, w.stderr);
  const metaFile = path.join(meta, 'FT0001L9.metadata.json');

  // Tampered: the adler32 of file 2 (both forms, so the document itself is consistent).
  const doc = JSON.parse(await fs.readFile(metaFile, 'utf8')) as { files: { adler32: number; adler32_hex: string }[] };
  doc.files[1]!.adler32 = (doc.files[1]!.adler32 ^ 0x10) >>> 0;
  doc.files[1]!.adler32_hex = doc.files[1]!.adler32.toString(16).padStart(8, '0');
  const badFile = path.join(work, 'tampered.metadata.json');
  await fs.writeFile(badFile, JSON.stringify(doc, null, 2));
  await fails(1, /CRC_MISMATCH: import of FT0001L9 refused: the tape does not match its metadata \(1 problem\):\n\s+file 2 \(\/import\/FT0001L9\/f2\.dat\): adler32 of the bytes on tape is/, ['volume', 'import-metadata', badFile, '--cartridge', cartridge]);
  await fails(1, /NO_SUCH_VOLUME: no volume FT0001L9/, ['volume', 'info', 'FT0001L9']);
  await assert.rejects(fs.stat(path.join(tapesDir, 'FT0001L9')), 'a refused import leaves no cartridge in the tapes directory');
  assert.deepEqual(await fs.readdir(path.join(tapesDir, '.import')), [], 'nor a staging copy');
  // A document that is not valid is refused with every problem listed.
  await fs.writeFile(path.join(work, 'broken.json'), JSON.stringify({ ...JSON.parse(await fs.readFile(metaFile, 'utf8')), version: 7 }));
  await fails(2, /MALFORMED: metadata: 1 problem:\n\s+\$\.version: unsupported version number 7; this Tapestry reads version 1/, ['volume', 'import-metadata', path.join(work, 'broken.json'), '--cartridge', cartridge]);

  const out = await cli(['volume', 'import-metadata', metaFile, '--cartridge', cartridge, '--enter']);
  assert.match(out, /^FILE_NO\s+BFID\s+SIZE\s+ADLER32\s+PATH$/m);
  assert.match(out, /^2\s+TAPE\d+\s+65536\s+[0-9a-f]{8}\s+\/import\/FT0001L9\/f2\.dat$/m);
  assert.match(out, /FT0001L9: imported into lto9 as default\.foreign\.cpio_odc, 3 file\(s\) active, end-of-data file 4; location slot 21/);
  const vol = JSON.parse(await cli(['volume', 'info', 'FT0001L9', '--json'])) as { eodFileNo: number; activeFiles: number; activeBytes: number; location: { kind: string; ref: string }; blockSize: number };
  assert.deepEqual([vol.eodFileNo, vol.activeFiles, vol.activeBytes, vol.location.kind, vol.location.ref, vol.blockSize], [4, 3, 265_537, 'slot', '21', 65536]);
  assert.match(await cli(['volume', 'history', 'FT0001L9']), /imported.*default\.foreign\.cpio_odc/);

  // Read back with encp: the robot mounts it, the mover checks VOL1 and each file's adler32.
  const back = path.join(work, 'back');
  await fs.mkdir(back);
  await encpOk([...files.map((f) => `/import/FT0001L9/${path.basename(f)}`), back]);
  for (const f of files) assert.equal(await sha(path.join(back, path.basename(f))), await sha(f), f);

  // The volume takes new files of its family after its imported end-of-data.
  await cli(['ns', 'tag', 'set', '/import/FT0001L9', 'file_family', 'foreign']);
  const more = await localFile('f4.dat', 5000);
  await encpOk([more, '/import/FT0001L9/f4.dat']);
  const onTape = JSON.parse(await cli(['volume', 'files', 'FT0001L9', '--json'])) as { fileNo: number; path: string; state: string }[];
  assert.deepEqual(onTape.map((f) => [f.fileNo, f.path, f.state]), [1, 2, 3, 4].map((n) => [n, `/import/FT0001L9/f${n}.dat`, 'active']));
  await encpOk(['/import/FT0001L9/f1.dat', path.join(back, 'again.dat')]);
  assert.equal(await sha(path.join(back, 'again.dat')), await sha(files[0]!));

  // A second import of the same tape is refused: the records exist.
  await fails(1, /EXISTS: volume FT0001L9 already exists in the catalogue/, ['volume', 'import-metadata', metaFile]);
});

test('export: bad requests are refused with a message naming what is wrong', async () => {
  await fails(1, /NO_SUCH_VOLUME: no volume TS0999L9/, ['volume', 'export', 'TS0999L9', '--out', work]);
  await fails(1, /CONFLICT: volume TS0020L9 is blank \(no VOL1 label yet\): nothing to export/, ['volume', 'export', 'TS0020L9', '--out', work]);
  await fails(2, /error: required option '--out <dir>' not specified/, ['volume', 'export', 'TS0020L9']);
  await fails(1, /NOT_FOUND: cannot read metadata file \S+nothing\.json: ENOENT/, ['volume', 'import-metadata', path.join(work, 'nothing.json')]);
});

test('export of an encp-written volume, service stopped, tapestry-tape-reader restores the files byte-identical', async () => {
  await cli(['ns', 'mkdir', '-p', '/exp/raw']);
  await cli(['ns', 'tag', 'set', '/exp/raw', 'file_family', 'raw']);
  const files = [await localFile('run1.dat', 300_000), await localFile('run2.dat', 70_000), await localFile('run3.dat', 0)];
  await encpOk([...files, '/exp/raw']);
  await cli(['ns', 'rm', '/exp/raw/run2.dat']);
  const info = JSON.parse(await cli(['file', 'info', '/exp/raw/run1.dat', '--json'])) as { volume: string };
  const label = info.volume;
  // One encp of three files: the tape order is the order the mover got them in.
  const onTape = JSON.parse(await cli(['volume', 'files', label, '--json'])) as { fileNo: number; path: string; state: string }[];
  assert.deepEqual(onTape.map((f) => f.path).sort(), ['/exp/raw/run1.dat', '/exp/raw/run2.dat', '/exp/raw/run3.dat']);
  const active = onTape.filter((f) => f.state === 'active').map((f) => [f.fileNo, f.path]);
  const deletedNo = onTape.find((f) => f.state === 'deleted')!.fileNo;

  const exportDir = path.join(work, 'export');
  const out = await cli(['volume', 'export', label, '--out', exportDir]);
  assert.match(out, /^FILE_NO\s+SIZE\s+ADLER32\s+PATH$/m);
  assert.match(out, new RegExp(`${label}: exported 2 file\\(s\\), 300 kB, 1 deleted file\\(s\\) listed apart; end-of-data file 4`));
  await fails(1, new RegExp(`EXISTS: an export of ${label} is already in \\S+ \\(${label}\\.metadata\\.json, ${label}\\.files\\.csv, ${label}\\.tape\\); use --force`), ['volume', 'export', label, '--out', exportDir]);
  const again = JSON.parse(await cli(['volume', 'export', label, '--out', exportDir, '--force', '--json'])) as { files: { fileNo: number; path: string }[]; cartridgeCopy: string };
  assert.deepEqual(again.files.map((f) => [f.fileNo, f.path]), active);
  assert.equal(again.cartridgeCopy, path.join(exportDir, `${label}.tape`));

  const metaFile = path.join(exportDir, `${label}.metadata.json`);
  const doc = JSON.parse(await fs.readFile(metaFile, 'utf8')) as { volume: { file_family: string; eod_file_no: number }; deleted: { file_no: number; path: string }[] };
  assert.deepEqual([doc.volume.file_family, doc.volume.eod_file_no], ['raw', 4]);
  assert.deepEqual(doc.deleted.map((d) => [d.file_no, d.path]), [[deletedNo, '/exp/raw/run2.dat']]);
  const csv = parseCsv(await fs.readFile(path.join(exportDir, `${label}.files.csv`), 'utf8'));
  assert.deepEqual(csv.map((r) => [r[0], r[1]]), [['file_no', 'path'], ...active.map(([n, p]) => [String(n), p])]);

  // The tape leaves: no server, no database from here on.
  assert.equal(await sys.stop('SIGINT'), 0);
  const restored = path.join(work, 'restored');
  const r = await runBin(READER, [path.join(exportDir, `${label}.tape`), metaFile, '--out', restored]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\d\s+300000\s+[0-9a-f]{8}\s+ok\s+\/exp\/raw\/run1\.dat/m);
  assert.equal(await sha(path.join(restored, 'exp/raw/run1.dat')), await sha(files[0]!));
  assert.equal(await sha(path.join(restored, 'exp/raw/run3.dat')), await sha(files[2]!));
  await assert.rejects(fs.stat(path.join(restored, 'exp/raw/run2.dat')), 'a deleted file is not restored');

  // GNU cpio, as on a machine with only the tape: `tapestry tape dump` reads a tapes directory by label.
  const dumpDir = path.join(work, 'dump-tapes');
  await fs.mkdir(dumpDir);
  await fs.symlink(path.join(exportDir, `${label}.tape`), path.join(dumpDir, label));
  const cpioOut = path.join(work, 'cpio-out');
  await fs.mkdir(cpioOut);
  const run1No = active.find(([, p]) => p === '/exp/raw/run1.dat')![0];
  const code = await new Promise<number | null>((resolve, reject) => {
    const sh = spawn('sh', ['-c', `node "${path.join(REPO, 'bin/tapestry.js')}" tape dump ${label} --file ${run1No} --tapes-dir "${dumpDir}" | cpio -idv`], { cwd: cpioOut, stdio: 'ignore' });
    sh.on('error', reject);
    sh.on('close', resolve);
  });
  assert.equal(code, 0);
  assert.equal(await sha(path.join(cpioOut, 'exp/raw/run1.dat')), await sha(files[0]!));
});
