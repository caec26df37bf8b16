import type { Command } from 'commander';
import { TapestryError } from '../../src/errors/index.ts';
import { ApiClient } from '../lib/api-client.ts';
import { printJson, table } from '../lib/output.ts';

interface Queue {
  library: string;
  state: string;
  movers: { name: string; state: string; volume: string | null; requestId: number | null }[];
  requests: { id: number; kind: string; state: string; priority: number; key: string; volume: string | null; fileNo: number | null; size: number; mover: string | null; attempts: number; queuedAt: string; lastError: string | null }[];
}

const STATES = ['unlocked', 'locked', 'ignore', 'pause', 'noread', 'nowrite'];

/** `tapestry library …`: the library manager's queue and state. */
export function registerLibraryCommands(program: Command): void {
  const library = program.command('library').description('library managers: queue and state');

  library
    .command('queue <library>')
    .description('open requests (queued, assigned, active) and the movers connected to the library manager')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const q = await new ApiClient().get<Queue>(`/libraries/${encodeURIComponent(name)}/queue`);
      if (opts.json) return printJson(q);
      const out = [`library ${q.library}: ${q.state}`, ''];
      out.push(table(['MOVER', 'STATE', 'VOLUME', 'REQUEST'], q.movers.map((m) => [m.name, m.state, m.volume, m.requestId])));
      out.push('');
      out.push(q.requests.length === 0 ? 'no open requests' : table(
        ['ID', 'KIND', 'STATE', 'PRI', 'KEY', 'FILE_NO', 'SIZE', 'MOVER', 'TRIES', 'QUEUED', 'LAST ERROR'],
        q.requests.map((r) => [r.id, r.kind, r.state, r.priority, r.key, r.fileNo, r.size, r.mover, r.attempts, r.queuedAt, r.lastError]),
      ));
      process.stdout.write(out.join('\n') + '\n');
    });

  library
    .command('state <library> <state>')
    .description(`set the library manager state: ${STATES.join(' | ')}`)
    .option('--reason <text>', 'why (kept with the state)')
    .action(async (name: string, state: string, opts: { reason?: string }) => {
      if (!STATES.includes(state)) throw new TapestryError('USERERROR', `unknown library state "${state}" (${STATES.join(', ')})`);
      const r = await new ApiClient().post<{ previous: string }>(`/libraries/${encodeURIComponent(name)}/state`, { state, ...(opts.reason ? { reason: opts.reason } : {}) });
      process.stdout.write(`library ${name}: ${r.previous} -> ${state}\n`);
    });
}
