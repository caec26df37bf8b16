import type { Command } from 'commander';
import { TapestryError } from '../../src/errors/index.ts';
import { ApiClient } from '../lib/api-client.ts';
import { printJson, table } from '../lib/output.ts';
import { moverStatus } from './mover-commands.ts';

interface Queue {
  library: string;
  state: string;
  movers: { name: string; state: string; adminState: 'online' | 'offline'; volume: string | null; requestId: number | null }[];
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
      out.push(table(['MOVER', 'STATE', 'VOLUME', 'REQUEST'], q.movers.map((m) => [m.name, moverStatus(m), m.volume, m.requestId])));
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

  // The operator's verbs for the states they use most (Enstore's --start-draining is `locked`).
  const verbs: [verb: string, state: string, what: string][] = [
    ['lock', 'locked', 'refuse new requests and hand out nothing queued; transfers at movers finish'],
    ['unlock', 'unlocked', 'accept and dispatch requests again'],
    ['pause', 'pause', 'accept new requests into the queue but hand out nothing; transfers at movers finish'],
  ];
  for (const [verb, state, what] of verbs) {
    library
      .command(`${verb} <library>`)
      .description(what)
      .option('--reason <text>', 'why (kept with the state)')
      .action(async (name: string, opts: { reason?: string }) => {
        const r = await setState(name, state, opts.reason);
        process.stdout.write(`library ${name}: ${r.previous} -> ${state}; ${r.queued} queued, ${r.inFlight} at movers\n`);
      });
  }

  library
    .command('reset <library>')
    .description('after a NOACCESS storm: broken -> unlocked, the NOACCESS count starts afresh, the BROKEN alarm is resolved')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const r = await new ApiClient().post<{ library: string; state: string; previous: string }>(`/libraries/${encodeURIComponent(name)}/reset`, {});
      if (opts.json) return printJson(r);
      process.stdout.write(r.previous === r.state
        ? `library ${name}: ${r.state} (was not broken); NOACCESS count reset\n`
        : `library ${name}: ${r.previous} -> ${r.state}; NOACCESS count reset\n`);
    });

  library
    .command('suspects <library>')
    .description('suspect (volume, mover) pairs: never paired again until `mover online <mover>` or `volume clear <volume> system access`')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const pairs = await new ApiClient().get<{ volume: string; mover: string; errorCode: string; errorMessage: string | null; at: string }[]>(`/libraries/${encodeURIComponent(name)}/suspects`);
      if (opts.json) return printJson(pairs);
      process.stdout.write(pairs.length === 0 ? `library ${name}: no suspect pairs\n` : table(['VOLUME', 'MOVER', 'ERROR', 'SINCE', 'MESSAGE'], pairs.map((p) => [p.volume, p.mover, p.errorCode, p.at, p.errorMessage])) + '\n');
    });

  library
    .command('drain <library>')
    .description('lock the library (nothing new is taken or handed out) and report what is still running; --wait until it has finished')
    .option('--reason <text>', 'why (kept with the state)', 'draining')
    .option('--wait', 'return only when no transfer is left at a mover')
    .action(async (name: string, opts: { reason: string; wait?: boolean }) => {
      const r = await setState(name, 'locked', opts.reason);
      process.stdout.write(`library ${name}: ${r.previous} -> locked (draining); ${r.inFlight} transfer(s) at movers, ${r.queued} queued request(s) held\n`);
      let inFlight = r.inFlight;
      while (opts.wait && inFlight > 0) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const q = await new ApiClient().get<Queue>(`/libraries/${encodeURIComponent(name)}/queue`);
        inFlight = q.requests.filter((x) => x.state !== 'queued').length;
      }
      if (opts.wait) process.stdout.write(`library ${name}: drained, no transfer at a mover\n`);
    });
}

function setState(library: string, state: string, reason: string | undefined): Promise<{ previous: string; inFlight: number; queued: number }> {
  return new ApiClient().post(`/libraries/${encodeURIComponent(library)}/state`, { state, ...(reason ? { reason } : {}) });
}
