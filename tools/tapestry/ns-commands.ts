import type { Command } from 'commander';
import type { Listing, NsEntry, TagView } from '../../src/namespace/service.ts';
import { ApiClient } from '../lib/api-client.ts';
import { formatBytes, keyValues, localUser, query } from '../lib/format.ts';
import { printJson, table } from '../lib/output.ts';

const modeString = (mode: number): string => 'd' + [6, 3, 0].map((s) => ((mode >> s) & 7)).map((b) => `${b & 4 ? 'r' : '-'}${b & 2 ? 'w' : '-'}${b & 1 ? 'x' : '-'}`).join('');

function longRows(entries: readonly NsEntry[]): string {
  return table(
    ['MODE', 'OWNER', 'SIZE', 'STATE', 'BFID', 'MODIFIED', 'NAME'],
    entries.map((e) => e.kind === 'dir'
      ? [modeString(e.mode), e.owner, '-', 'dir', '-', e.updatedAt, `${e.name}/`]
      : ['-rw-r--r--', e.owner, e.size, e.state, e.bfid, e.updatedAt, e.name]),
  );
}

function printTags(tags: readonly TagView[]): void {
  process.stdout.write(table(['TAG', 'VALUE', 'FROM'], tags.map((t) => [t.tag, t.value, t.source === 'default' ? '(default)' : t.origin])) + '\n');
}

export function registerNamespaceCommands(program: Command): void {
  const ns = program.command('ns').description('the namespace: directories, files and their tags');
  const api = (): ApiClient => new ApiClient();
  const pathQ = (path: string): string => query({ path });

  ns
    .command('mkdir <dir>')
    .description('create a directory')
    .option('-p, --parents', 'create missing parents; no error when it exists')
    .action(async (dir: string, opts: { parents?: boolean }) => {
      await api().post('/namespace/dirs', { path: dir, parents: opts.parents ?? false, owner: localUser() });
    });

  ns
    .command('ls <path>')
    .description('list a directory (or show one file)')
    .option('-l, --long', 'long listing: owner, size, state, bfid, time')
    .option('--json', 'print JSON')
    .action(async (path: string, opts: { long?: boolean; json?: boolean }) => {
      const listing = await api().get<Listing>(`/namespace${pathQ(path)}`);
      if (opts.json) return printJson(listing);
      if (opts.long) return void process.stdout.write((listing.entries.length ? longRows(listing.entries) : 'total 0') + '\n');
      if (listing.entries.length) process.stdout.write(listing.entries.map((e) => (e.kind === 'dir' ? `${e.name}/` : e.name)).join('\n') + '\n');
    });

  ns
    .command('stat <path>')
    .description('one directory or file')
    .option('--json', 'print JSON')
    .action(async (path: string, opts: { json?: boolean }) => {
      const e = await api().get<NsEntry>(`/namespace/stat${pathQ(path)}`);
      if (opts.json) return printJson(e);
      process.stdout.write(keyValues(e.kind === 'dir'
        ? [['path', e.path], ['kind', 'directory'], ['owner', e.owner], ['group', e.group], ['mode', modeString(e.mode)], ['created', e.createdAt], ['modified', e.updatedAt]]
        : [['path', e.path], ['kind', 'file'], ['bfid', e.bfid], ['state', e.state], ['size', `${e.size} (${formatBytes(e.size)})`], ['volume', e.volume], ['file_no', e.fileNo], ['owner', e.owner], ['created', e.createdAt]]) + '\n');
    });

  ns
    .command('rm <file>')
    .description('mark a file deleted (the tape keeps its bytes; volume counters change)')
    .action(async (file: string) => {
      const r = await api().request<{ bfid: string; path: string; volume: string | null; fileNo: number | null }>('DELETE', `/namespace/files${pathQ(file)}`);
      process.stdout.write(`deleted ${r.path} (bfid ${r.bfid}${r.volume ? `, ${r.volume} file ${r.fileNo}` : ''})\n`);
    });

  const tag = ns.command('tag').description('directory tags: file_family, file_family_width, file_family_wrapper, library, storage_group');

  tag
    .command('set <dir> <tag> <value>')
    .description('set a tag (sub-directories inherit it unless they set their own)')
    .action(async (dir: string, name: string, value: string) => {
      const t = await api().request<TagView>('PUT', `/namespace/tags/${encodeURIComponent(name)}${pathQ(dir)}`, { value });
      process.stdout.write(`${dir}: ${t.tag} = ${t.value}\n`);
    });

  tag
    .command('unset <dir> <tag>')
    .description('remove a tag from a directory so it inherits again')
    .action(async (dir: string, name: string) => {
      const t = await api().request<TagView>('DELETE', `/namespace/tags/${encodeURIComponent(name)}${pathQ(dir)}`);
      process.stdout.write(`${dir}: ${t.tag} unset${t.value === null ? '' : ` (now ${t.value} from ${t.origin ?? '(default)'})`}\n`);
    });

  tag
    .command('get <dir> <tag>')
    .description('the effective value of a tag (nothing when unset)')
    .option('--json', 'print JSON, with where the value comes from')
    .action(async (dir: string, name: string, opts: { json?: boolean }) => {
      const t = await api().get<TagView>(`/namespace/tags/${encodeURIComponent(name)}${pathQ(dir)}`);
      if (opts.json) return printJson(t);
      if (t.value !== null) process.stdout.write(`${t.value}\n`);
    });

  tag
    .command('list <dir>')
    .description('every tag with its effective value and the directory it comes from')
    .option('--json', 'print JSON')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const r = await api().get<{ path: string; tags: TagView[] }>(`/namespace/tags${pathQ(dir)}`);
      if (opts.json) return printJson(r);
      printTags(r.tags);
    });
}
