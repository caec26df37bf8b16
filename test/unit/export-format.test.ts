import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { isTapestryError } from '../../src/errors/index.ts';
import { CSV_COLUMNS, filesCsv, parseCsv } from '../../export/csv.ts';
import { adler32Hex, buildMetadata, metadataJson, toDocument, type FileEntry, type VolumeMetadata } from '../../export/format.ts';
import { parseMetadata, parseMetadataText, validateMetadata } from '../../export/validate.ts';
import { targetPath } from '../../tools/tape-reader/restore.ts';

const file = (fileNo: number, p: string, extra: Partial<FileEntry> = {}): FileEntry => ({
  fileNo, path: p, size: 1000 * fileNo, adler32: 0x0bdc_e7cd + fileNo, uid: 1000, gid: 100, user: 'alice',
  createdAt: '2026-11-01T10:00:00.000Z', modifiedAt: '2026-11-02T11:00:00.000Z', bfid: `TAPE1764000000${String(fileNo).padStart(5, '0')}`,
  sanitySize: 1000 * fileNo, sanityAdler32: 77 + fileNo, ...extra,
});

function sample(): VolumeMetadata {
  return buildMetadata({
    exportedAt: new Date('2026-11-25T18:00:00Z'),
    exportedBy: 'tapestry 0.1.0',
    volume: { label: 'TS0001L9', mediaType: 'LTO9', blockSize: 262144, wrapper: 'cpio_odc', storageGroup: 'default', fileFamily: 'raw', library: 'lto9', capacityBytes: 18e12, eodFileNo: 5 },
    // Out of order on purpose: the document lists files in tape order.
    files: [file(3, '/exp/raw/c, "quoted".dat', { bfid: null, sanitySize: null, sanityAdler32: null, user: null }), file(1, '/exp/raw/a.dat'), file(2, '/exp/raw/b.dat')],
    deleted: [{ fileNo: 4, path: '/exp/raw/gone.dat', size: 5, adler32: 99, bfid: 'TAPE176400000000009', deletedAt: '2026-11-20T00:00:00.000Z' }],
  });
}

/** The JSON document of `sample()`, as a mutable plain object. */
const doc = (): Record<string, any> => JSON.parse(metadataJson(sample())) as Record<string, any>;

function problemsOf(d: unknown): string[] {
  const r = validateMetadata(d);
  assert.equal(r.metadata, null, 'expected the document to be refused');
  return [...r.problems];
}

test('metadata: build → JSON → parse gives the same metadata back, files in tape order', () => {
  const m = sample();
  assert.deepEqual(m.files.map((f) => f.fileNo), [1, 2, 3]);
  const text = metadataJson(m);
  assert.ok(text.endsWith('}\n'));
  const back = parseMetadataText(text, 'TS0001L9.metadata.json');
  assert.deepEqual(back, m);
  // The JSON is the open format: snake_case, adler32 also in hex.
  const d = JSON.parse(text) as Record<string, any>;
  assert.equal(d.format, 'tapestry-volume-metadata');
  assert.equal(d.version, 1);
  assert.deepEqual(Object.keys(d.volume), ['label', 'media_type', 'block_size', 'wrapper', 'storage_group', 'file_family', 'library', 'capacity_bytes', 'eod_file_no']);
  assert.equal(d.files[1].adler32_hex, adler32Hex(0x0bdc_e7cd + 2));
  assert.equal(d.files[1].adler32_hex, '0bdce7cf');
  assert.equal(d.deleted[0].adler32_hex, '00000063');
  assert.deepEqual(toDocument(back), d);
});

test('metadata: adler32 hex is 8 lowercase digits, 1-seeded values as they are', () => {
  assert.equal(adler32Hex(1), '00000001');
  assert.equal(adler32Hex(0xffff_ffff), 'ffffffff');
});

test('CSV: the same per-file columns, RFC 4180 quoting, empty for null', () => {
  const text = filesCsv(sample());
  assert.ok(text.split('\r\n').length === 5 && text.endsWith('\r\n'), 'header + 3 files, CRLF line ends');
  const rows = parseCsv(text);
  assert.deepEqual(rows[0], [...CSV_COLUMNS]);
  assert.deepEqual(rows[1], ['1', '/exp/raw/a.dat', '1000', String(0x0bdc_e7ce), '0bdce7ce', '1000', '100', 'alice', '2026-11-01T10:00:00.000Z', '2026-11-02T11:00:00.000Z', 'TAPE176400000000001', '1000', '78']);
  assert.equal(rows[3]![1], '/exp/raw/c, "quoted".dat', 'a comma and quotes in a path survive');
  assert.match(text, /,"\/exp\/raw\/c, ""quoted"".dat",/);
  assert.deepEqual(rows[3]!.slice(7, 8).concat(rows[3]!.slice(10)), ['', '', '', ''], 'null user, bfid and sanity are empty fields');
  assert.equal(rows.length, 4, 'deleted files are not in the CSV');
});

test('validation: every problem is listed with its JSON path', () => {
  const d = doc();
  d.volume.block_size = 0;
  d.volume.colour = 'blue';
  delete d.volume.eod_file_no;
  d.files[0].adler32_hex = 'ffffffff';
  d.files[1].path = 'exp/relative.dat';
  d.files[2].file_no = 1;
  d.files[2].sanity_size = 10;
  delete d.files[2].uid;
  d.deleted[0].created_at = 'x';
  const problems = problemsOf(d);
  const expect = [
    /^volume\.block_size: must be at least 1, got 0$/,
    /^volume\.colour: unknown field$/,
    /^volume\.eod_file_no: missing$/,
    /^files\[0\]\.adler32_hex: ffffffff does not match adler32 \d+ \(= 0bdce7ce\)$/,
    /^files\[1\]\.path: illegal namespace path "exp\/relative\.dat": must be absolute/,
    /^files\[2\]\.uid: missing$/,
    /^files\[2\]\.sanity_size: sanity_size and sanity_adler32 are both set or both null$/,
    /^files\[2\]\.file_no: position 1 is also given to files\[0\]$/,
    /^deleted\[0\]\.created_at: unknown field$/,
  ];
  for (const re of expect) assert.ok(problems.some((p) => re.test(p)), `no problem matching ${re} in:\n${problems.join('\n')}`);
  assert.equal(problems.length, expect.length, problems.join('\n'));
});

test('validation: positions below end-of-data, unique paths, sane paths and names', () => {
  const d = doc();
  d.volume.eod_file_no = 3;
  d.files[1].path = d.files[0].path;
  d.files[0].path = '/exp/../etc/passwd';
  d.volume.file_family = 'raw data';
  d.volume.wrapper = 'cern';
  const problems = problemsOf(d);
  assert.ok(problems.some((p) => /^files\[2\]\.file_no: 3 is not below the volume's eod_file_no 3$/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => /^deleted\[0\]\.file_no: 4 is not below/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => /^files\[0\]\.path: .*"\.\." is not allowed/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => /^volume\.file_family: illegal value "raw data"/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => /^volume\.wrapper: unsupported wrapper "cern"/.test(p)), problems.join('\n'));
  // b.dat now names a.dat's old path, which file 0 no longer has: no duplicate; make one.
  const dup = doc();
  dup.files[1].path = dup.files[0].path;
  assert.ok(problemsOf(dup).some((p) => /^files\[1\]\.path: \/exp\/raw\/a\.dat is also the path of files\[0\]$/.test(p)));
});

test('validation: wrong types are named, not crashed on', () => {
  const d = doc();
  d.files[0].size = '1000';
  d.files[1] = 'not an object';
  d.deleted = {};
  const problems = problemsOf(d);
  assert.ok(problems.includes('files[0].size: must be a whole number, got "1000"'), problems.join('\n'));
  assert.ok(problems.includes('files[1]: must be an object, got "not an object"'), problems.join('\n'));
  assert.ok(problems.includes('$.deleted: must be an array, got an object'), problems.join('\n'));
  assert.deepEqual(problemsOf([]), ['$: must be an object, got an array']);
});

test('validation: an unknown version or another format is refused with one clear problem', () => {
  const newer = doc();
  newer.version = 2;
  newer.volume = 'whatever a version 2 holds';
  assert.deepEqual(problemsOf(newer), ['$.version: unsupported version number 2; this Tapestry reads version 1 (a newer Tapestry wrote it, or it is not a version number)']);
  const other = doc();
  other.format = 'something-else';
  assert.match(problemsOf(other)[0]!, /^\$\.format: "something-else" is not "tapestry-volume-metadata"/);
  assert.equal(problemsOf(other).length, 1);
});

test('parseMetadata: MALFORMED whose message and detail list the problems; not JSON is MALFORMED too', () => {
  const d = doc();
  d.files[0].uid = -1;
  d.files[1].gid = 2 ** 31;
  assert.throws(() => parseMetadata(d, 'x.json'), (err: unknown) => {
    assert.ok(isTapestryError(err, 'MALFORMED'));
    assert.match(err.message, /^x\.json: 2 problems:\n {2}files\[0\]\.uid: must be at least 0, got -1\n {2}files\[1\]\.gid: must be at most 2147483647/);
    assert.equal((err.context.problems as string[]).length, 2);
    return true;
  });
  assert.throws(() => parseMetadataText('{"format": ', 'y.json'), (err: unknown) => isTapestryError(err, 'MALFORMED') && /^y\.json: not JSON/.test(err.message));
});

test('reader target paths: below --out, leading / stripped, never outside it', () => {
  assert.equal(targetPath('/restore', '/exp/raw/a.dat'), path.join('/restore', 'exp', 'raw', 'a.dat'));
  for (const bad of ['/exp/../../etc/passwd', '/', '/a//b', '/a/./b', '/a/..']) {
    assert.throws(() => targetPath('/restore', bad), (err: unknown) => isTapestryError(err, 'USERERROR'), bad);
  }
});
