import type { Command } from 'commander';
import type { FileRecord } from '../../file-clerk/repo.ts';
import { TapestryError } from '../../src/errors/index.ts';
import type { HistoryEntry, Volume } from '../../volume-clerk/repo.ts';
import { ApiClient } from '../lib/api-client.ts';
import { formatBytes, keyValues, localUser, query } from '../lib/format.ts';
import { printJson, table } from '../lib/output.ts';

/** What `volume set` can set, and on which inhibit field (Enstore's vol --read-only, --full, ...). */
const SETTABLE = {
  readonly: { field: 'state', value: 'readonly' },
  full: { field: 'state', value: 'full' },
  migrated: { field: 'state', value: 'migrated' },
  notallowed: { field: 'access', value: 'NOTALLOWED' },
  noaccess: { field: 'access', value: 'NOACCESS' },
} as const;

const inhibits = (v: Volume): string => `[${v.systemInhibit.access}, ${v.systemInhibit.state}] [${v.userInhibit.access}, ${v.userInhibit.state}]`;
const location = (v: Volume): string => (v.location.ref === null ? v.location.kind : `${v.location.kind} ${v.location.ref}`);
const labelPath = (label: string): string => `/volumes/${encodeURIComponent(label)}`;

function printVolume(v: Volume): void {
  process.stdout.write(keyValues([
    ['label', v.label],
    ['library', v.library],
    ['media type', v.mediaType],
    ['volume family', v.volumeFamily],
    ['capacity', `${v.capacityBytes} (${formatBytes(v.capacityBytes)})`],
    ['remaining', `${v.remainingBytes} (${formatBytes(v.remainingBytes)})`],
    ['end of data', v.eodFileNo === null ? 'blank (no VOL1 yet)' : `file ${v.eodFileNo}`],
    ['system inhibit', `${v.systemInhibit.access} ${v.systemInhibit.state}`],
    ['user inhibit', `${v.userInhibit.access} ${v.userInhibit.state}`],
    ['write protected', v.writeProtected],
    ['location', location(v)],
    ['shelf policy', v.shelfPolicy],
    ['files', `${v.activeFiles} active (${formatBytes(v.activeBytes)}), ${v.deletedFiles} deleted (${formatBytes(v.deletedBytes)}), ${v.unknownFiles} unknown (${formatBytes(v.unknownBytes)})`],
    ['mounts', v.mounts],
    ['accesses', `${v.readAccesses} read, ${v.writeAccesses} write; errors ${v.readErrors} read, ${v.writeErrors} write`],
    ['declared', v.declaredAt],
    ['last access', v.lastAccessAt],
    ['comment', v.comment || null],
  ]) + '\n');
}

export function registerVolumeCommands(program: Command): void {
  const volume = program.command('volume').description('tape volumes: declare, inspect, inhibit');
  const api = (): ApiClient => new ApiClient();

  volume
    .command('add <label>')
    .description('declare a blank volume (common pool, or the blank pool of a storage group)')
    .requiredOption('--library <name>', 'library that holds it')
    .requiredOption('--media-type <type>', 'media type (must be the library\'s)')
    .option('--storage-group <sg>', 'reserve it for a storage group')
    .option('--comment <text>', 'comment')
    .option('--json', 'print JSON')
    .action(async (label: string, opts: { library: string; mediaType: string; storageGroup?: string; comment?: string; json?: boolean }) => {
      const v = await api().post<Volume>('/volumes', { label, library: opts.library, mediaType: opts.mediaType, storageGroup: opts.storageGroup, comment: opts.comment });
      if (opts.json) return printJson(v);
      process.stdout.write(`${v.label} declared in ${v.library} (${v.volumeFamily}, ${formatBytes(v.capacityBytes)})\n`);
    });

  volume
    .command('info <label>')
    .description('one volume: family, space, end-of-data, inhibits, location, counters')
    .option('--json', 'print JSON')
    .action(async (label: string, opts: { json?: boolean }) => {
      const v = await api().get<Volume>(labelPath(label));
      if (opts.json) printJson(v);
      else printVolume(v);
    });

  volume
    .command('list')
    .description('volumes, by label')
    .option('--family <ff>', 'file family, or a whole volume family sg.ff.wrapper')
    .option('--library <name>', 'library')
    .option('--storage-group <sg>', 'storage group')
    .option('--json', 'print JSON')
    .action(async (opts: { family?: string; library?: string; storageGroup?: string; json?: boolean }) => {
      const vols = await api().get<Volume[]>(`/volumes${query({ family: opts.family, library: opts.library, storageGroup: opts.storageGroup })}`);
      if (opts.json) return printJson(vols);
      if (vols.length === 0) return void process.stdout.write('no volumes\n');
      process.stdout.write(table(
        ['LABEL', 'LIBRARY', 'VOLUME FAMILY', 'REMAINING', 'EOD', 'FILES', 'INHIBITS [system] [user]', 'LOCATION'],
        vols.map((v) => [v.label, v.library, v.volumeFamily, formatBytes(v.remainingBytes), v.eodFileNo ?? 'blank', v.activeFiles, inhibits(v), location(v)]),
      ) + '\n');
    });

  volume
    .command('files <label>')
    .description('the files on a volume in tape order')
    .option('--json', 'print JSON')
    .action(async (label: string, opts: { json?: boolean }) => {
      const files = await api().get<FileRecord[]>(`${labelPath(label)}/files`);
      if (opts.json) return printJson(files);
      if (files.length === 0) return void process.stdout.write(`no files on ${label}\n`);
      process.stdout.write(table(
        ['FILE_NO', 'BFID', 'SIZE', 'STATE', 'CRC', 'PATH'],
        files.map((f) => [f.fileNo, f.bfid, f.size, f.abandoned ? 'abandoned' : f.state, f.crc, f.path]),
      ) + '\n');
    });

  volume
    .command('history <label>')
    .description('every change of inhibits, family, location and comment')
    .option('--json', 'print JSON')
    .action(async (label: string, opts: { json?: boolean }) => {
      const h = await api().get<HistoryEntry[]>(`${labelPath(label)}/history`);
      if (opts.json) return printJson(h);
      process.stdout.write(table(['AT', 'KIND', 'VALUE', 'BY', 'REASON'], h.map((e) => [e.at, e.kind, e.value, e.actor, e.reason])) + '\n');
    });

  volume
    .command('set <label> <inhibit>')
    .description(`set an inhibit: ${Object.keys(SETTABLE).join(' | ')} (a user inhibit unless --system)`)
    .option('--system', 'set the system inhibit instead of the user one')
    .option('--reason <text>', 'why (kept in the history)')
    .action(async (label: string, inhibit: string, opts: { system?: boolean; reason?: string }) => {
      const what = SETTABLE[inhibit.toLowerCase() as keyof typeof SETTABLE];
      if (!what) throw new TapestryError('USERERROR', `unknown inhibit ${JSON.stringify(inhibit)} (use ${Object.keys(SETTABLE).join(', ')})`);
      const kind = opts.system ? 'system' : 'user';
      const v = await api().post<Volume>(`${labelPath(label)}/inhibits`, { kind, field: what.field, value: what.value, actor: localUser(), reason: opts.reason });
      process.stdout.write(`${v.label}: ${kind} ${what.field} inhibit ${what.value}; inhibits now ${inhibits(v)}\n`);
    });

  volume
    .command('clear <label> [kind] [field]')
    .description('clear inhibits: kind system|user (user), field access|state (both)')
    .action(async (label: string, kind: string | undefined, field: string | undefined) => {
      const k = kind ?? 'user';
      if (k !== 'system' && k !== 'user') throw new TapestryError('USERERROR', `kind must be system or user, not ${JSON.stringify(k)}`);
      if (field !== undefined && field !== 'access' && field !== 'state') throw new TapestryError('USERERROR', `field must be access or state, not ${JSON.stringify(field)}`);
      const v = await api().request<Volume>('DELETE', `${labelPath(label)}/inhibits${query({ kind: k, field, actor: localUser() })}`);
      process.stdout.write(`${v.label}: ${k} ${field ?? 'access and state'} inhibits cleared; inhibits now ${inhibits(v)}\n`);
    });
}
