import type { Command } from 'commander';
import { TapestryError } from '../../src/errors/index.ts';
import { ApiClient } from '../lib/api-client.ts';
import { localUser } from '../lib/format.ts';
import { printJson } from '../lib/output.ts';

interface RequestSummary {
  id: number;
  library: string;
  kind: string;
  state: string;
  priority: number;
  key: string;
  error: string | null;
}

function requestId(id: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(id)) throw new TapestryError('USERERROR', `request id must be a positive whole number (see \`tapestry library queue\`), not ${JSON.stringify(id)}`);
  return Number(id);
}

/** `tapestry request …`: an operator's hand on one queued request (Enstore's `library --priority`, `--delete-work`). */
export function registerRequestCommands(program: Command): void {
  const request = program.command('request').description('queued transfer requests: change priority, cancel');

  request
    .command('priority <id> <priority>')
    .description('give a queued request another base priority (higher goes first; default 1)')
    .option('--json', 'print JSON')
    .action(async (id: string, priority: string, opts: { json?: boolean }) => {
      const n = requestId(id);
      if (!/^[0-9]{1,7}$/.test(priority) || Number(priority) > 1_000_000) throw new TapestryError('USERERROR', `priority must be a whole number from 0 to 1000000, not ${JSON.stringify(priority)}`);
      const r = await new ApiClient().post<RequestSummary>(`/requests/${n}/priority`, { priority: Number(priority) });
      if (opts.json) return printJson(r);
      process.stdout.write(`request ${r.id} (${r.kind} ${r.key}): priority ${r.priority}\n`);
    });

  request
    .command('cancel <id>')
    .description('cancel a queued request; the encp waiting for it fails with CANCELLED')
    .option('--reason <text>', 'why (the waiting encp prints it)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { reason?: string; json?: boolean }) => {
      const n = requestId(id);
      const r = await new ApiClient().post<RequestSummary>(`/requests/${n}/cancel`, { by: localUser(), ...(opts.reason ? { reason: opts.reason } : {}) });
      if (opts.json) return printJson(r);
      process.stdout.write(`request ${r.id} (${r.kind} ${r.key}) cancelled\n`);
    });
}
