import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeWhere, formatFamily, formatFilesReport, formatUsage, formatVolumes, formatWhere, hexCrc, shortTime } from '../../reports/format.ts';
import { anyInhibit, describeLocation, formatInhibits } from '../../reports/location.ts';
import { parseCutoff, parseFamily, parseLabels } from '../../reports/params.ts';
import type { FamilyReport, FilesReport, InhibitsView, UsageReport, VolumesReport, WhereFile } from '../../reports/types.ts';
import { alarmKey } from '../../src/alarms/repo.ts';
import { isTapestryError } from '../../src/errors/index.ts';
import { moverStatus } from '../../tools/tapestry/mover-commands.ts';

const NOW = Date.UTC(2026, 5, 15, 12, 0, 0);
const userError = (pattern: RegExp) => (err: unknown): boolean => isTapestryError(err, 'USERERROR') && pattern.test(err.message);

test('--older-than: dates, date-times and ages', () => {
  const cases: [string, string][] = [
    ['2024-05-01', '2024-05-01T00:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['2024-05-01T12:30:00Z', '2024-05-01T12:30:00.000Z'],
    ['2024-05-01T12:30', '2024-05-01T12:30:00.000Z'], // no zone: UTC
    ['2024-05-01 12:30:15.5+02:00', '2024-05-01T10:30:15.500Z'],
    ['90d', new Date(NOW - 90 * 86_400_000).toISOString()],
    ['12h', new Date(NOW - 12 * 3_600_000).toISOString()],
    ['2w', new Date(NOW - 14 * 86_400_000).toISOString()],
    ['1y', new Date(NOW - 365 * 86_400_000).toISOString()],
    ['0d', new Date(NOW).toISOString()],
    [' 2100-01-01 ', '2100-01-01T00:00:00.000Z'],
  ];
  for (const [text, expected] of cases) assert.equal(parseCutoff(text, NOW).toISOString(), expected, text);
  for (const bad of ['', 'yesterday', '2024-02-30', '2023-02-29', '2024-13-01', '24-05-01', '90', '90m', '-5d', '2024-05-01T25:00Z', '2024/05/01']) {
    assert.throws(() => parseCutoff(bad, NOW), userError(/is not a date \(2024-05-01\), a date and time .* or an age \(12h, 90d, 8w, 1y\)/), bad);
  }
});

test('family arguments: a file family or a whole volume family', () => {
  assert.deepEqual(parseFamily('raw'), { fileFamily: 'raw' });
  assert.deepEqual(parseFamily('cms.raw-2024.cpio_odc'), { storageGroup: 'cms', fileFamily: 'raw-2024', wrapper: 'cpio_odc' });
  for (const bad of ['', 'a.b', 'a.b.c.d', 'raw data', 'a..c', 'r/w']) {
    assert.throws(() => parseFamily(bad), userError(/is neither a file family .* nor a volume family storage_group.file_family.wrapper/), bad);
  }
});

test('volume labels: checked, duplicates dropped, order kept', () => {
  assert.deepEqual(parseLabels(['TS0002L9', 'TS0001L9', 'TS0002L9']), ['TS0002L9', 'TS0001L9']);
  assert.deepEqual(parseLabels(['TS0002L9.deleted']), ['TS0002L9.deleted']);
  assert.throws(() => parseLabels([]), userError(/name at least one volume/));
  assert.throws(() => parseLabels(['TS0001L9', 'ts0002l9']), userError(/"ts0002l9" is not a volume label/));
  assert.throws(() => parseLabels(Array.from({ length: 101 }, (_, i) => `V${String(i).padStart(5, '0')}`)), userError(/at most 100 volumes/));
});

test('locations: in the library (slot, drive, mail slot), out (shelf), unknown', () => {
  assert.deepEqual(describeLocation('slot', '5'), { kind: 'slot', ref: '5', inLibrary: true, where: 'slot 5' });
  assert.deepEqual(describeLocation('drive', 'drive-2'), { kind: 'drive', ref: 'drive-2', inLibrary: true, where: 'drive drive-2' });
  assert.equal(describeLocation('mailslot', '1').where, 'mail slot 1');
  assert.deepEqual(describeLocation('shelf', 'vault B'), { kind: 'shelf', ref: 'vault B', inLibrary: false, where: 'shelf (vault B)' });
  assert.equal(describeLocation('shelf', null).where, 'shelf');
  assert.deepEqual(describeLocation('unknown', null), { kind: 'unknown', ref: null, inLibrary: null, where: 'unknown' });

  const file = (location: WhereFile['location']): WhereFile => ({ path: '/a', bfid: 'B', state: 'active', size: 1, library: 'lto9', volume: 'V1', fileNo: 1, location });
  assert.equal(describeWhere(file(describeLocation('slot', '5'))), 'library lto9, slot 5');
  assert.equal(describeWhere(file(describeLocation('drive', 'drive-3'))), 'library lto9, drive drive-3');
  assert.equal(describeWhere(file(describeLocation('shelf', 'vault'))), 'out of the library: shelf (vault)');
  assert.equal(describeWhere(file(describeLocation('unknown', null))), 'unknown location');
  assert.equal(describeWhere({ ...file(null), volume: null, fileNo: null, state: 'writing' }), 'not on tape yet');
});

test('inhibits: any one set counts; printed as [system] [user]', () => {
  const none: InhibitsView = { systemAccess: 'none', systemState: 'none', userAccess: 'none', userState: 'none' };
  assert.equal(anyInhibit(none), false);
  for (const k of Object.keys(none) as (keyof InhibitsView)[]) assert.equal(anyInhibit({ ...none, [k]: 'x' }), true, k);
  assert.equal(formatInhibits({ ...none, systemAccess: 'NOACCESS', userState: 'readonly' }), '[NOACCESS, none] [none, readonly]');
});

test('times and checksums for tables', () => {
  assert.equal(shortTime('2026-06-15T12:00:03.123Z'), '2026-06-15 12:00:03Z');
  assert.equal(shortTime(null), '-');
  assert.equal(shortTime(null, 'never'), 'never');
  assert.equal(hexCrc(0x0a1b2c3d), '0a1b2c3d');
  assert.equal(hexCrc(1), '00000001');
  assert.equal(hexCrc(null), null);
});

test('files report: tape order table and the per-volume age span', () => {
  const r: FilesReport = {
    volumes: [
      { volume: 'V1', volumeFamily: 'sg.raw.cpio_odc', activeFiles: 2, activeBytes: 3000, oldest: { path: '/a/1', bfid: 'B1', createdAt: '2026-01-01T00:00:00.000Z' }, youngest: { path: '/a/2', bfid: 'B2', createdAt: '2026-01-02T00:00:00.000Z' } },
      { volume: 'V2', volumeFamily: 'none.none.none', activeFiles: 0, activeBytes: 0, oldest: null, youngest: null },
    ],
    files: [
      { volume: 'V1', fileNo: 1, bfid: 'B1', size: 1000, crc: 255, path: '/a/1', state: 'active', createdAt: '2026-01-01T00:00:00.000Z' },
      { volume: 'V1', fileNo: 2, bfid: 'B2', size: 2000, crc: 256, path: '/a/2', state: 'active', createdAt: '2026-01-02T00:00:00.000Z' },
    ],
  };
  const text = formatFilesReport(r);
  assert.match(text, /^VOLUME\s+FILE_NO\s+SIZE\s+ADLER32\s+STATE\s+CREATED\s+PATH$/m);
  assert.match(text, /^V1\s+1\s+1000\s+000000ff\s+active\s+2026-01-01 00:00:00Z\s+\/a\/1$/m);
  assert.match(text, /^V1\s+sg\.raw\.cpio_odc\s+2\s+3\.00 kB\s+\/a\/1\s+2026-01-01 00:00:00Z\s+\/a\/2\s+2026-01-02 00:00:00Z$/m);
  assert.match(text, /^V2\s+none\.none\.none\s+0\s+0 B\s+-\s+-\s+-\s+-$/m);
  assert.match(formatFilesReport({ volumes: [r.volumes[1]!], files: [] }), /^no files on V2$/m);
});

test('where, family, volumes and usage tables', () => {
  const where = formatWhere({
    path: '/exp', kind: 'directory', truncated: true,
    files: [{ path: '/exp/a', bfid: 'B', state: 'active', size: 5, library: 'lto9', volume: 'V1', fileNo: 3, location: describeLocation('slot', '7') }],
  });
  assert.match(where, /^\/exp\/a\s+V1\s+3\s+library lto9, slot 7\s+active\s+5$/m);
  assert.match(where, /only the first 1 files under \/exp; use --limit/);
  assert.equal(formatWhere({ path: '/e', kind: 'directory', truncated: false, files: [] }), 'no files under /e');

  const none: InhibitsView = { systemAccess: 'none', systemState: 'none', userAccess: 'none', userState: 'none' };
  const vol = { label: 'V1', library: 'lto9', volumeFamily: 'sg.raw.cpio_odc', activeFiles: 2, activeBytes: 2000, remainingBytes: 5000, mounts: 3, lastMountAt: null, youngestFileAt: '2026-01-02T00:00:00.000Z', location: describeLocation('shelf', null), inhibits: none };
  const fam: FamilyReport = { family: 'raw', library: null, olderThan: '2100-01-01T00:00:00.000Z', familyVolumes: 3, volumes: [vol] };
  const famText = formatFamily(fam);
  assert.match(famText, /^file family raw: 1 of 3 volume\(s\) in the library hold only files older than 2100-01-01 00:00:00Z$/m);
  assert.match(famText, /^V1\s+lto9\s+sg\.raw\.cpio_odc\s+2\s+2\.00 kB\s+5\.00 kB\s+3\s+never\s+2026-01-02 00:00:00Z\s+shelf$/m);
  assert.equal(formatFamily({ ...fam, olderThan: null, library: 'lto9', volumes: [] }), 'file family raw in library lto9: 0 volume(s)');

  const vr: VolumesReport = { inhibitedOnly: false, volumes: [{ ...vol, inhibits: { ...none, userState: 'readonly' } }] };
  assert.match(formatVolumes(vr), /^V1\s+lto9\s+sg\.raw\.cpio_odc\s+never\s+3\s+2\s+out\s+shelf\s+\[none, none\] \[none, readonly\]$/m);
  assert.equal(formatVolumes({ inhibitedOnly: true, volumes: [] }), 'no volume has an inhibit set');

  const usage: UsageReport = {
    families: [
      { library: 'lto9', storageGroup: 'cms', fileFamily: 'raw', volumes: 2, activeFiles: 10, activeBytes: 1000, freeBytes: 5000 },
      { library: 'lto9', storageGroup: 'cms', fileFamily: 'reco', volumes: 1, activeFiles: 1, activeBytes: 100, freeBytes: 900 },
      { library: 'lto9', storageGroup: 'none', fileFamily: 'none', volumes: 4, activeFiles: 0, activeBytes: 0, freeBytes: 4000 },
    ],
    storageGroups: [
      { library: 'lto9', storageGroup: 'cms', fileFamily: null, volumes: 3, activeFiles: 11, activeBytes: 1100, freeBytes: 5900 },
      { library: 'lto9', storageGroup: 'none', fileFamily: null, volumes: 4, activeFiles: 0, activeBytes: 0, freeBytes: 4000 },
    ],
  };
  const lines = formatUsage(usage).split('\n').map((l) => l.split(/\s{2,}/));
  assert.deepEqual(lines.map((l) => l[2]), ['FILE FAMILY', 'raw', 'reco', '(all)', 'none', '(all)'], 'each storage group closes with its total');
  assert.deepEqual(lines[3], ['lto9', 'cms', '(all)', '3', '11', '1.10 kB', '5.90 kB']);
});

test('alarm causes: one key per kind and subject', () => {
  assert.equal(alarmKey('NOVOLUME', 'lto9', 'sg.ff.cpio_odc'), 'NOVOLUME:lto9:sg.ff.cpio_odc');
  assert.equal(alarmKey('CRC_MISMATCH', 'TAPE123'), 'CRC_MISMATCH:TAPE123');
});

test('mover status: an offline mover still busy is draining', () => {
  assert.equal(moverStatus({ state: 'idle', adminState: 'online', requestId: null }), 'idle');
  assert.equal(moverStatus({ state: 'busy', adminState: 'offline', requestId: 7 }), 'draining (offline when done)');
  assert.equal(moverStatus({ state: 'have_bound', adminState: 'offline', requestId: null }), 'offline');
});
