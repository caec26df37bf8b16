import type { Command } from 'commander';
import { formatDrives, formatFamily, formatFilesReport, formatUsage, formatVolumeStats, formatVolumes, formatWhere } from '../../reports/format.ts';
import type { DriveLine, FamilyReport, FilesReport, UsageReport, VolumeStatsLine, VolumesReport, WhereReport } from '../../reports/types.ts';
import { TapestryError } from '../../src/errors/index.ts';
import { ApiClient } from '../lib/api-client.ts';
import { query } from '../lib/format.ts';
import { printJson } from '../lib/output.ts';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Fetch a report and print it as a table, or as the JSON the API returned. */
async function show<T>(path: string, json: boolean | undefined, format: (r: T) => string): Promise<void> {
  const report = await new ApiClient().get<T>(path);
  if (json) return printJson(report);
  process.stdout.write(format(report) + '\n');
}

/** `tapestry report …`: read-only reports over the catalogue (REST `/api/v1/reports/<name>`). */
export function registerReportCommands(program: Command): void {
  const report = program.command('report').description('reports: files on volumes, where files are, families, volumes, usage, drives');

  report
    .command('files')
    .description('files on volumes in tape order, with each volume\'s oldest and youngest file')
    .option('--volume <label>', 'a volume (repeat for more)', collect, [] as string[])
    .option('--json', 'print JSON')
    .action(async (opts: { volume: string[]; json?: boolean }) => {
      if (opts.volume.length === 0) throw new TapestryError('USERERROR', 'name at least one volume: tapestry report files --volume TS0001L9 [--volume TS0002L9 ...]');
      const q = new URLSearchParams();
      for (const v of opts.volume) q.append('volume', v);
      await show<FilesReport>(`/reports/files?${q.toString()}`, opts.json, formatFilesReport);
    });

  report
    .command('where <path>')
    .description('where a file is, or every file under a directory: volume, file_no, and slot, drive or shelf')
    .option('--limit <n>', 'most files listed under a directory', '10000')
    .option('--json', 'print JSON')
    .action(async (path: string, opts: { limit: string; json?: boolean }) => {
      if (!/^[1-9][0-9]{0,6}$/.test(opts.limit)) throw new TapestryError('USERERROR', `--limit must be a whole number from 1 to 1000000, not ${JSON.stringify(opts.limit)}`);
      await show<WhereReport>(`/reports/where${query({ path, limit: Number(opts.limit) })}`, opts.json, formatWhere);
    });

  report
    .command('family <family>')
    .description('the volumes of a file family (or sg.ff.wrapper) with their last mount; --older-than: those that can leave the library')
    .option('--library <name>', 'only this library')
    .option('--older-than <when>', 'only volumes in the library whose files are all older: a date (2024-05-01), date-time, or age (90d, 12h, 8w, 1y)')
    .option('--json', 'print JSON')
    .action(async (family: string, opts: { library?: string; olderThan?: string; json?: boolean }) => {
      await show<FamilyReport>(`/reports/family${query({ family, library: opts.library, olderThan: opts.olderThan })}`, opts.json, formatFamily);
    });

  report
    .command('volumes')
    .description('all volumes, least recently mounted first, in or out of the library')
    .option('--inhibited', 'only volumes with an inhibit set (system or user, access or state)')
    .option('--library <name>', 'only this library')
    .option('--json', 'print JSON')
    .action(async (opts: { inhibited?: boolean; library?: string; json?: boolean }) => {
      await show<VolumesReport>(`/reports/volumes${query({ library: opts.library, inhibited: opts.inhibited ? true : undefined })}`, opts.json, formatVolumes);
    });

  report
    .command('usage')
    .description('per storage group and file family: volumes, active files and bytes, free space')
    .option('--library <name>', 'only this library')
    .option('--json', 'print JSON')
    .action(async (opts: { library?: string; json?: boolean }) => {
      await show<UsageReport>(`/reports/usage${query({ library: opts.library })}`, opts.json, formatUsage);
    });

  report
    .command('drives')
    .description('per drive: mounts, bytes read and written, read and write errors')
    .option('--library <name>', 'only this library')
    .option('--json', 'print JSON')
    .action(async (opts: { library?: string; json?: boolean }) => {
      await show<DriveLine[]>(`/reports/drives${query({ library: opts.library })}`, opts.json, formatDrives);
    });

  report
    .command('volume-stats')
    .description('per volume: mounts, last mount, transfers, read and write errors')
    .option('--library <name>', 'only this library')
    .option('--json', 'print JSON')
    .action(async (opts: { library?: string; json?: boolean }) => {
      await show<VolumeStatsLine[]>(`/reports/volume-stats${query({ library: opts.library })}`, opts.json, formatVolumeStats);
    });
}
