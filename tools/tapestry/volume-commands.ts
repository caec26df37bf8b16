import type { Command } from 'commander';
import type { FileRecord } from '../../file-clerk/repo.ts';
import { TapestryError } from '../../src/errors/index.ts';
import type { AutoReadonlyRun } from '../../volume-clerk/auto-readonly-service.ts';
import { formatDuration as duration } from '../../volume-clerk/auto-readonly.ts';
import type { HistoryEntry, Volume } from '../../volume-clerk/repo.ts';
import { ApiClient } from '../lib/api-client.ts';
import { formatBytes, keyValues, localUser, query } from '../lib/format.ts';
import { printJson, table } from '../lib/output.ts';
import { registerVolumeExportCommands } from './volume-export-commands.ts';
import { registerShelfCommands } from './shelf-commands.ts';

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

/** The label as typed, or USERERROR saying what a label looks like (a deleted one ends in .deleted). */
function checkLabel(label: string): string {
  if (!/^[A-Z0-9]{6,8}(\.deleted)?$/.test(label)) {
    throw new TapestryError('USERERROR', `illegal volume label ${JSON.stringify(label)}: 6 to 8 capital letters and digits, e.g. TS0021L9 (TS0021L9.deleted once deleted)`, { context: { label } });
  }
  return label;
}

export function registerVolumeCommands(program: Command): void {
  const volume = program.command('volume').description('tape volumes: declare, inspect, inhibit, delete, recycle, erase');
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
    .description('every change of a volume: inhibits, family, location, comment, lifecycle (also of an erased one)')
    .option('--json', 'print JSON')
    .action(async (label: string, opts: { json?: boolean }) => {
      const h = await api().get<HistoryEntry[]>(`${labelPath(checkLabel(label))}/history`);
      if (opts.json) return printJson(h);
      process.stdout.write(table(['AT', 'LABEL', 'KIND', 'OLD', 'NEW', 'BY', 'REASON'], h.map((e) => [e.at, e.label, e.kind, e.oldValue, e.value, e.actor, e.reason])) + '\n');
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

  registerVolumeExportCommands(volume); // export, import-metadata (tools/tapestry/volume-export-commands.ts)
  registerShelfCommands(volume); // import, set-shelf-policy (tools/tapestry/shelf-commands.ts)

  registerLifecycleCommands(volume, api);
}

const who = (reason?: string): { actor: string; reason?: string } => ({ actor: localUser(), reason });

/** The lifecycle half of `tapestry volume` (Enstore's `enstore vol --delete, --restore, --recycle, --erase, ...`). */
function registerLifecycleCommands(volume: Command, api: () => ApiClient): void {
  volume
    .command('delete <label>')
    .description('delete a volume whose files are all deleted: a written one becomes <label>.deleted, a never-written one is removed')
    .option('--reason <text>', 'why (kept in the history)')
    .option('--json', 'print JSON')
    .action(async (label: string, opts: { reason?: string; json?: boolean }) => {
      const r = await api().request<{ outcome: 'removed' | 'renamed'; label: string }>('DELETE', `${labelPath(checkLabel(label))}${query({ actor: localUser(), reason: opts.reason })}`);
      if (opts.json) return printJson(r);
      process.stdout.write(r.outcome === 'removed'
        ? `${label} removed (it was never written)\n`
        : `${label} deleted: now ${r.label}; \`tapestry volume restore ${r.label}\` undoes it, \`tapestry volume erase ${r.label}\` forgets it\n`);
    });

  volume
    .command('restore <label>')
    .description('undo a delete: <label>.deleted gets its label back (its files stay deleted)')
    .option('--reason <text>', 'why (kept in the history)')
    .option('--json', 'print JSON')
    .action(async (label: string, opts: { reason?: string; json?: boolean }) => {
      const v = await api().post<Volume>(`${labelPath(checkLabel(label))}/restore`, who(opts.reason));
      if (opts.json) return printJson(v);
      process.stdout.write(`${label} restored as ${v.label} (${v.volumeFamily}); inhibits now ${inhibits(v)}\n`);
    });

  volume
    .command('recycle <label>')
    .description('make a volume whose files are all deleted blank again, in the blank pool of its storage group (mount count kept)')
    .option('--clear-sg', 'put it back in the common pool instead of its storage group\'s')
    .option('--reason <text>', 'why (kept in the history)')
    .option('--json', 'print JSON')
    .action(async (label: string, opts: { clearSg?: boolean; reason?: string; json?: boolean }) => {
      const v = await api().post<Volume>(`${labelPath(checkLabel(label))}/recycle`, { ...who(opts.reason), clearStorageGroup: opts.clearSg ?? false });
      if (opts.json) return printJson(v);
      process.stdout.write(`${v.label} recycled: ${v.volumeFamily}, ${formatBytes(v.remainingBytes)} free, ${v.mounts} mounts so far\n`);
    });

  volume
    .command('erase <label>')
    .description('forget a deleted volume (<label>.deleted): its record goes, its history stays')
    .option('--reason <text>', 'why (kept in the history)')
    .option('--json', 'print JSON')
    .action(async (label: string, opts: { reason?: string; json?: boolean }) => {
      const r = await api().post<{ label: string; erased: boolean }>(`${labelPath(checkLabel(label))}/erase`, who(opts.reason));
      if (opts.json) return printJson(r);
      process.stdout.write(`${r.label} erased; \`tapestry volume history ${r.label}\` still shows its history\n`);
    });

  volume
    .command('assign-sg <label> <storage-group>')
    .description('give a blank volume to the blank pool of a storage group ("none": back to the common pool)')
    .option('--reason <text>', 'why (kept in the history)')
    .option('--json', 'print JSON')
    .action(async (label: string, storageGroup: string, opts: { reason?: string; json?: boolean }) => {
      const v = await api().request<Volume>('PUT', `${labelPath(checkLabel(label))}/storage-group`, { ...who(opts.reason), storageGroup });
      if (opts.json) return printJson(v);
      process.stdout.write(`${v.label} is now in the ${v.storageGroup === 'none' ? 'common' : v.storageGroup} blank pool (${v.volumeFamily})\n`);
    });

  volume
    .command('set-comment <label> <text>')
    .description('set the free-text comment of a volume ("" clears it)')
    .option('--json', 'print JSON')
    .action(async (label: string, text: string, opts: { json?: boolean }) => {
      const v = await api().request<Volume>('PUT', `${labelPath(checkLabel(label))}/comment`, { comment: text, actor: localUser() });
      if (opts.json) return printJson(v);
      process.stdout.write(`${v.label}: comment ${v.comment ? JSON.stringify(v.comment) : 'cleared'}\n`);
    });

  volume
    .command('write-protect <label> <on|off>')
    .description('record the cartridge as write-protected (never chosen for writes) or not')
    .option('--reason <text>', 'why (kept in the history)')
    .option('--json', 'print JSON')
    .action(async (label: string, state: string, opts: { reason?: string; json?: boolean }) => {
      if (state !== 'on' && state !== 'off') throw new TapestryError('USERERROR', `write-protect takes on or off, not ${JSON.stringify(state)}`);
      const v = await api().request<Volume>('PUT', `${labelPath(checkLabel(label))}/write-protect`, { ...who(opts.reason), on: state === 'on' });
      if (opts.json) return printJson(v);
      process.stdout.write(`${v.label}: write protection ${v.writeProtected === 'y' ? 'on' : 'off'}\n`);
    });

  volume
    .command('auto-readonly')
    .description('automatic read-only of volumes nobody wrote for a while: show the policy, or run it --now')
    .option('--now', 'run it now instead of waiting for its schedule')
    .option('--library <name>', 'only this library')
    .option('--older-than <age>', 'with --now: this age for every family instead of the configured one, e.g. 30d')
    .option('--json', 'print JSON')
    .action(async (opts: { now?: boolean; library?: string; olderThan?: string; json?: boolean }) => {
      if (!opts.now) {
        if (opts.olderThan !== undefined) throw new TapestryError('USERERROR', '--older-than goes with --now');
        const policies = (await api().get<AutoReadonlyPolicy[]>('/volumes/auto-readonly')).filter((p) => !opts.library || p.library === opts.library);
        if (opts.json) return printJson(policies);
        if (policies.length === 0) return void process.stdout.write('no library has auto_readonly in its config\n');
        process.stdout.write(table(
          ['LIBRARY', 'OLDER THAN', 'FAMILY AGES', 'EVERY', 'NEXT RUN'],
          policies.map((p) => [p.library, duration(p.olderThanMs), Object.entries(p.familyAges).map(([f, ms]) => `${f}=${duration(ms)}`).join(' ') || null, p.everyMs === null ? null : duration(p.everyMs), p.nextAt]),
        ) + '\n');
        return;
      }
      const runs = await api().post<AutoReadonlyRun[]>('/volumes/auto-readonly', { library: opts.library, olderThan: opts.olderThan });
      if (opts.json) return printJson(runs);
      if (runs.length === 0) return void process.stdout.write('no library has auto_readonly in its config (give --older-than to run it anyway)\n');
      for (const r of runs) {
        process.stdout.write(`${r.library}: ${r.marked.length} of ${r.considered} written volume(s) set readonly (files older than ${duration(r.olderThanMs)})\n`);
        if (r.marked.length > 0) process.stdout.write(table(['LABEL', 'FILE FAMILY', 'NEWEST FILE', 'AGE LIMIT'], r.marked.map((m) => [m.label, m.fileFamily, m.newestFileAt, duration(m.olderThanMs)])) + '\n');
      }
    });
}

interface AutoReadonlyPolicy { library: string; olderThanMs: number; familyAges: Record<string, number>; everyMs: number | null; nextAt: string | null }
