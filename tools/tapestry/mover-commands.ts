import type { Command } from 'commander';
import { ApiClient } from '../lib/api-client.ts';
import { printJson, table } from '../lib/output.ts';

interface MoverLine {
  name: string;
  library: string;
  drive: string;
  adminState: 'online' | 'offline';
  connected: boolean;
  state: string;
  volume: string | null;
  requestId: number | null;
  /** Drive/media failures in a row since the last success. */
  consecutiveFailures?: number;
}

/** What an operator wants to know in one word: an offline mover still busy is draining. */
export function moverStatus(m: { state: string; adminState: 'online' | 'offline'; requestId: number | null }): string {
  if (m.adminState === 'online') return m.state;
  return m.requestId !== null ? 'draining (offline when done)' : 'offline';
}

const moverPath = (name: string): string => `/movers/${encodeURIComponent(name)}/state`;

/** `tapestry mover …`: take movers (and so their drives) out of service and back (Enstore's `mover --offline/--online`). */
export function registerMoverCommands(program: Command): void {
  const mover = program.command('mover').description('movers: list, take offline, bring online');

  mover
    .command('list')
    .description('every mover: library, drive, online/offline, what it is doing')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const movers = await new ApiClient().get<MoverLine[]>('/movers');
      if (opts.json) return printJson(movers);
      process.stdout.write(table(
        ['MOVER', 'LIBRARY', 'DRIVE', 'ADMIN', 'STATE', 'VOLUME', 'REQUEST', 'FAILS'],
        movers.map((m) => [m.name, m.library, m.drive, m.adminState, m.connected ? moverStatus(m) : 'not connected', m.volume, m.requestId, m.consecutiveFailures ?? 0]),
      ) + '\n');
    });

  mover
    .command('offline <name>')
    .description('no new work for this mover; a transfer in flight finishes, then its tape is dismounted')
    .action(async (name: string) => {
      const r = await new ApiClient().post<{ previous: string; busy: boolean }>(moverPath(name), { state: 'offline' });
      process.stdout.write(`mover ${name}: ${r.previous} -> offline${r.busy ? ' (its current transfer finishes first)' : ''}\n`);
    });

  mover
    .command('online <name>')
    .description('give the mover work again; its failure counts and suspect pairs start afresh')
    .action(async (name: string) => {
      const r = await new ApiClient().post<{ previous: string }>(moverPath(name), { state: 'online' });
      process.stdout.write(`mover ${name}: ${r.previous} -> online\n`);
    });
}
