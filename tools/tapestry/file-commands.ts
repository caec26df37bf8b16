import type { Command } from 'commander';
import type { FileRecord } from '../../file-clerk/repo.ts';
import { ApiClient } from '../lib/api-client.ts';
import { formatBytes, keyValues, query } from '../lib/format.ts';
import { printJson } from '../lib/output.ts';

export function registerFileCommands(program: Command): void {
  const file = program.command('file').description('the file catalogue: bfids, positions on tape, states');

  file
    .command('info <path-or-bfid>')
    .description('one file by namespace path or bfid: bfid, path, size, crc, volume, file_no, state')
    .option('--json', 'print JSON')
    .action(async (what: string, opts: { json?: boolean }) => {
      const f = await new ApiClient().get<FileRecord>(`/files/info${query(what.startsWith('/') ? { path: what } : { bfid: what })}`);
      if (opts.json) return printJson(f);
      process.stdout.write(keyValues([
        ['bfid', f.bfid],
        ['path', f.path],
        ['state', f.abandoned ? `${f.state} (abandoned)` : f.state],
        ['size', `${f.size} (${formatBytes(f.size)})`],
        ['crc', f.crc === null ? null : `${f.crc} (adler32 ${f.crc.toString(16).padStart(8, '0')})`],
        ['volume', f.volume],
        ['file_no', f.fileNo],
        ['location', f.locationCookie],
        ['family', `${f.storageGroup}.${f.fileFamily}.${f.wrapper}`],
        ['library', f.library],
        ['drive', f.drive],
        ['owner', `${f.owner} (uid ${f.uid}, gid ${f.gid})`],
        ['created', f.createdAt],
        ['deleted', f.deletedAt],
      ]) + '\n');
    });

  file
    .command('abandon <bfid>')
    .description('give up a write that will never finish (the row goes, or stays as unknown bytes when it has a tape position)')
    .action(async (bfid: string) => {
      const r = await new ApiClient().post<{ bfid: string; outcome: string }>(`/files/${encodeURIComponent(bfid)}/abandon`);
      process.stdout.write(`${r.bfid}: ${r.outcome}\n`);
    });
}
