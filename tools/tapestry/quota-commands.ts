import type { Command } from 'commander';
import { TapestryError } from '../../src/errors/index.ts';
import type { QuotaUsage } from '../../volume-clerk/quota-repo.ts';
import type { QuotaReport } from '../../volume-clerk/quota-service.ts';
import { ApiClient } from '../lib/api-client.ts';
import { localUser, query } from '../lib/format.ts';
import { printJson, table } from '../lib/output.ts';

const quotaPath = (library: string, sg: string): string => `/quotas/${encodeURIComponent(library)}/${encodeURIComponent(sg)}`;

/** `tapestry quota`: how many volumes a storage group may hold per library (Enstore's `enstore quota`). */
export function registerQuotaCommands(program: Command): void {
  const quota = program.command('quota').description('storage-group quotas: how many volumes a storage group may take from the common blank pool');

  quota
    .command('set <library> <storage-group> <n>')
    .description('let a storage group hold at most n volumes in a library (0: no new volumes from the common pool)')
    .option('--json', 'print JSON')
    .action(async (library: string, sg: string, n: string, opts: { json?: boolean }) => {
      if (!/^[0-9]+$/.test(n)) throw new TapestryError('USERERROR', `a quota is a whole number of volumes >= 0, not ${JSON.stringify(n)}`);
      const u = await new ApiClient().request<QuotaUsage>('PUT', quotaPath(library, sg), { quota: Number(n), actor: localUser() });
      if (opts.json) return printJson(u);
      process.stdout.write(`${u.storageGroup} in ${u.library}: quota ${u.quota}, ${u.used} volume(s) used\n`);
    });

  quota
    .command('clear <library> <storage-group>')
    .description('remove a quota (no limit)')
    .action(async (library: string, sg: string) => {
      const u = await new ApiClient().request<QuotaUsage>('DELETE', `${quotaPath(library, sg)}${query({ actor: localUser() })}`);
      process.stdout.write(`${u.storageGroup} in ${u.library}: no quota, ${u.used} volume(s) used\n`);
    });

  quota
    .command('show')
    .description('used / quota of every storage group, and the blank volumes left in each common pool')
    .option('--library <name>', 'only this library')
    .option('--json', 'print JSON')
    .action(async (opts: { library?: string; json?: boolean }) => {
      const r = await new ApiClient().get<QuotaReport>(`/quotas${query({ library: opts.library })}`);
      if (opts.json) return printJson(r);
      if (r.quotas.length === 0) process.stdout.write('no storage group holds volumes or has a quota\n');
      else {
        process.stdout.write(table(
          ['LIBRARY', 'STORAGE GROUP', 'USED', 'QUOTA', 'BLANK', 'STATE'],
          r.quotas.map((q) => [q.library, q.storageGroup, q.used, q.quota ?? 'none', q.blank, q.quota === null ? 'no limit' : q.used >= q.quota ? 'FULL: no more common-pool volumes' : `${q.quota - q.used} more allowed`]),
        ) + '\n');
      }
      for (const c of r.commonPool) process.stdout.write(`common pool of ${c.library}: ${c.blank} blank volume(s)\n`);
    });
}
