import { formatBytes } from '../tools/lib/format.ts';
import { table } from '../tools/lib/output.ts';
import { formatInhibits } from './location.ts';
import type { DriveLine, FamilyReport, FilesReport, UsageReport, VolumeStatsLine, VolumesReport, WhereFile, WhereReport } from './types.ts';

/**
 * The human form of each report (`tapestry report <name>`; `--json` prints the
 * data itself). Pure: report in, text out.
 */

/** `2024-05-01 12:00:03Z`: sortable, unambiguous, short enough for a table. */
export function shortTime(at: string | null, none = '-'): string {
  if (at === null) return none;
  return at.replace('T', ' ').replace(/\.[0-9]+Z$/, 'Z');
}

/** adler32 as Enstore and `tapestry file info` show it in hex, 8 digits. */
export function hexCrc(crc: number | null): string | null {
  return crc === null ? null : crc.toString(16).padStart(8, '0');
}

export function formatFilesReport(r: FilesReport): string {
  const out: string[] = [];
  out.push(r.files.length === 0
    ? `no files on ${r.volumes.map((v) => v.volume).join(', ')}`
    : table(
      ['VOLUME', 'FILE_NO', 'SIZE', 'ADLER32', 'STATE', 'CREATED', 'PATH'],
      r.files.map((f) => [f.volume, f.fileNo, f.size, hexCrc(f.crc), f.state, shortTime(f.createdAt), f.path]),
    ));
  out.push('');
  out.push(table(
    ['VOLUME', 'VOLUME FAMILY', 'ACTIVE', 'BYTES', 'OLDEST FILE', 'CREATED', 'YOUNGEST FILE', 'CREATED'],
    r.volumes.map((v) => [v.volume, v.volumeFamily, v.activeFiles, formatBytes(v.activeBytes), v.oldest?.path, shortTime(v.oldest?.createdAt ?? null), v.youngest?.path, shortTime(v.youngest?.createdAt ?? null)]),
  ));
  return out.join('\n');
}

/** "library lto9, slot 5", "out of the library: shelf (vault B)", "not on tape yet". */
export function describeWhere(f: WhereFile): string {
  if (f.location === null) return 'not on tape yet';
  if (f.location.inLibrary === true) return `library ${f.library}, ${f.location.where}`;
  if (f.location.inLibrary === false) return `out of the library: ${f.location.where}`;
  return 'unknown location';
}

export function formatWhere(r: WhereReport): string {
  if (r.files.length === 0) return `no files under ${r.path}`;
  const t = table(
    ['PATH', 'VOLUME', 'FILE_NO', 'WHERE', 'STATE', 'SIZE'],
    r.files.map((f) => [f.path, f.volume, f.fileNo, describeWhere(f), f.state, f.size]),
  );
  return r.truncated ? `${t}\n(only the first ${r.files.length} files under ${r.path}; use --limit for more)` : t;
}

export function formatFamily(r: FamilyReport): string {
  const lib = r.library ? ` in library ${r.library}` : '';
  const head = r.olderThan === null
    ? `file family ${r.family}${lib}: ${r.volumes.length} volume(s)`
    : `file family ${r.family}${lib}: ${r.volumes.length} of ${r.familyVolumes} volume(s) in the library hold only files older than ${shortTime(r.olderThan)}`;
  if (r.volumes.length === 0) return head;
  return `${head}\n\n${table(
    ['LABEL', 'LIBRARY', 'VOLUME FAMILY', 'FILES', 'BYTES', 'REMAINING', 'MOUNTS', 'LAST MOUNT', 'YOUNGEST FILE', 'LOCATION'],
    r.volumes.map((v) => [v.label, v.library, v.volumeFamily, v.activeFiles, formatBytes(v.activeBytes), formatBytes(v.remainingBytes), v.mounts, shortTime(v.lastMountAt, 'never'), shortTime(v.youngestFileAt), v.location.where]),
  )}`;
}

const yesNo = (b: boolean | null): string => (b === null ? 'unknown' : b ? 'in' : 'out');

export function formatVolumes(r: VolumesReport): string {
  if (r.volumes.length === 0) return r.inhibitedOnly ? 'no volume has an inhibit set' : 'no volumes';
  return table(
    ['LABEL', 'LIBRARY', 'VOLUME FAMILY', 'LAST MOUNT', 'MOUNTS', 'FILES', 'IN/OUT', 'LOCATION', 'INHIBITS [system] [user]'],
    r.volumes.map((v) => [v.label, v.library, v.volumeFamily, shortTime(v.lastMountAt, 'never'), v.mounts, v.activeFiles, yesNo(v.location.inLibrary), v.location.where, formatInhibits(v.inhibits)]),
  );
}

/** Families, each storage group closed by its total line. */
export function formatUsage(r: UsageReport): string {
  if (r.families.length === 0) return 'no volumes';
  const rows: unknown[][] = [];
  const line = (l: UsageReport['families'][number], family: string): unknown[] =>
    [l.library, l.storageGroup, family, l.volumes, l.activeFiles, formatBytes(l.activeBytes), formatBytes(l.freeBytes)];
  for (const total of r.storageGroups) {
    for (const f of r.families) if (f.library === total.library && f.storageGroup === total.storageGroup) rows.push(line(f, f.fileFamily!));
    rows.push(line(total, '(all)'));
  }
  return table(['LIBRARY', 'STORAGE GROUP', 'FILE FAMILY', 'VOLUMES', 'ACTIVE FILES', 'ACTIVE BYTES', 'FREE'], rows);
}

export function formatDrives(lines: readonly DriveLine[]): string {
  if (lines.length === 0) return 'no drives';
  return table(
    ['DRIVE', 'LIBRARY', 'STATE', 'MOUNTS', 'READS', 'WRITES', 'BYTES READ', 'BYTES WRITTEN', 'READ ERRORS', 'WRITE ERRORS', 'LAST ERROR'],
    lines.map((d) => [d.drive, d.library, d.state, d.mounts, d.reads, d.writes, formatBytes(d.bytesRead), formatBytes(d.bytesWritten), d.readErrors, d.writeErrors, lastError(d)]),
  );
}

export function formatVolumeStats(lines: readonly VolumeStatsLine[]): string {
  if (lines.length === 0) return 'no volumes';
  return table(
    ['LABEL', 'LIBRARY', 'MOUNTS', 'LAST MOUNT', 'READS', 'WRITES', 'READ ERRORS', 'WRITE ERRORS', 'LAST ERROR'],
    lines.map((v) => [v.label, v.library, v.mounts, shortTime(v.lastMountAt, 'never'), v.reads, v.writes, v.readErrors, v.writeErrors, lastError(v)]),
  );
}

function lastError(c: { lastError: string | null; lastErrorAt: string | null }): string | null {
  return c.lastError === null ? null : `${c.lastError} at ${shortTime(c.lastErrorAt)}`;
}
