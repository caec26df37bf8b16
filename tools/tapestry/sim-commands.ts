import type { Command } from 'commander';
import { TapestryError } from '../../src/errors/index.ts';
import { ApiClient } from '../lib/api-client.ts';
import { printJson, table } from '../lib/output.ts';

function intArg(value: string | undefined, what: string): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 0) throw new TapestryError('USERERROR', `${what} must be a non-negative integer, got ${value ?? 'nothing'}`);
  return n;
}

/** The robot named by --robot, or the only simulated robot there is. */
async function simRobot(api: ApiClient, robot: string | undefined): Promise<string> {
  if (robot !== undefined) return robot;
  const faults = await api.get<{ robots: Record<string, unknown> }>('/sim/faults');
  const names = Object.keys(faults.robots);
  if (names.length !== 1) throw new TapestryError('USERERROR', `there are ${names.length} simulated robots (${names.join(', ')}): name one with --robot`);
  return names[0]!;
}

type MailslotView = { robot: string; mailslots: { mailslot: number; label: string | null }[] };

function printMailslots(v: MailslotView): void {
  process.stdout.write(table(['MAILSLOT', 'LABEL'], v.mailslots.map((m) => [`I${m.mailslot}`, m.label ?? '(empty)'])) + '\n');
}

/** `tapestry sim mailslot …`: the operator at the robot's mail slot (the shelf side of the I/O station). */
function registerMailslotCommands(sim: Command): void {
  const mailslot = sim.command('mailslot').description("act as the operator at the simulated robot's mail slot");

  mailslot
    .command('show')
    .description('list the mail slots and what they hold')
    .option('--robot <robot>', 'simulated robot (default: the only one)')
    .option('--json', 'print JSON')
    .action(async (opts: { robot?: string; json?: boolean }) => {
      const api = new ApiClient();
      const robot = await simRobot(api, opts.robot);
      const view = await api.get<MailslotView>(`/sim/robots/${encodeURIComponent(robot)}/mailslots`);
      if (opts.json) printJson(view);
      else printMailslots(view);
    });

  mailslot
    .command('take')
    .description('empty every mail slot: the cartridges go to the shelf (their data is kept)')
    .option('--robot <robot>', 'simulated robot (default: the only one)')
    .option('--json', 'print JSON')
    .action(async (opts: { robot?: string; json?: boolean }) => {
      const api = new ApiClient();
      const robot = await simRobot(api, opts.robot);
      const out = await api.post<{ robot: string; taken: string[] }>(`/sim/robots/${encodeURIComponent(robot)}/mailslots/take`, {});
      if (opts.json) printJson(out);
      else process.stdout.write(out.taken.length === 0 ? `robot ${robot}: the mail slots were empty\n` : `robot ${robot}: took ${out.taken.join(' ')} to the shelf\n`);
    });

  mailslot
    .command('put <label...>')
    .description('put cartridges into free mail slots: labels from the shelf, or new labels (a blank cartridge is made)')
    .option('--robot <robot>', 'simulated robot (default: the only one)')
    .option('--json', 'print JSON')
    .action(async (labels: string[], opts: { robot?: string; json?: boolean }) => {
      const bad = labels.find((l) => !/^[A-Z0-9]{6,8}$/.test(l));
      if (bad !== undefined) throw new TapestryError('USERERROR', `illegal cartridge label ${JSON.stringify(bad)}: 6 to 8 capital letters and digits, e.g. TS0021L9`);
      const api = new ApiClient();
      const robot = await simRobot(api, opts.robot);
      const out = await api.post<{ robot: string; put: { label: string; created: boolean }[] }>(`/sim/robots/${encodeURIComponent(robot)}/mailslots/put`, { labels });
      if (opts.json) printJson(out);
      else process.stdout.write(table(['LABEL', 'CARTRIDGE'], out.put.map((p) => [p.label, p.created ? 'new blank' : 'from the shelf'])) + '\n');
    });
}

/** `tapestry sim …`: the simulated hardware's fault injection, for tests and demos. */
export function registerSimCommands(program: Command): void {
  const sim = program.command('sim').description('the simulated library: inject faults, inspect pending ones');

  sim
    .command('faults')
    .description('list pending simulated faults')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const faults = await new ApiClient().get<unknown>('/sim/faults');
      if (opts.json) printJson(faults);
      else process.stdout.write(JSON.stringify(faults, null, 2) + '\n');
    });

  registerMailslotCommands(sim);

  const fault = sim.command('fault').description('inject a fault');

  fault
    .command('drive <drive> <kind>')
    .description('kind: fail-next-read | fail-next-write | fail-next-load | corrupt-next-write (silently flips a byte of the next block written) | down | up')
    .option('--code <code>', 'error code the failed operation reports (MEDIA_ERROR, DRIVE_ERROR)', 'MEDIA_ERROR')
    .action(async (drive: string, kind: string, opts: { code: string }) => {
      await new ApiClient().post(`/sim/drives/${encodeURIComponent(drive)}/faults`, { kind, code: opts.code });
      process.stdout.write(`drive ${drive}: ${kind}\n`);
    });

  fault
    .command('cartridge <label> <kind> [value]')
    .description('kind: corrupt-record <record-index> (the drive reports a media error) | corrupt-record-silently <record-index> (wrong bytes, no drive error) | early-eot <bytes> | write-protect on|off')
    .action(async (label: string, kind: string, value: string | undefined) => {
      const body =
        kind === 'corrupt-record' || kind === 'corrupt-record-silently' ? { kind, record: intArg(value, 'record index') }
        : kind === 'early-eot' ? { kind, bytes: intArg(value, 'bytes') }
        : kind === 'write-protect' ? { kind, on: value === 'on' ? true : value === 'off' ? false : (() => { throw new TapestryError('USERERROR', 'write-protect takes on or off'); })() }
        : (() => { throw new TapestryError('USERERROR', `unknown cartridge fault "${kind}" (corrupt-record, corrupt-record-silently, early-eot, write-protect)`); })();
      await new ApiClient().post(`/sim/cartridges/${encodeURIComponent(label)}/faults`, body);
      process.stdout.write(`cartridge ${label}: ${kind}${value === undefined ? '' : ' ' + value}\n`);
    });

  fault
    .command('robot <robot> <kind> [value]')
    .description('kind: fail-next <robot-error-code> | jam | clear-jam | busy <ms> | drop-next-reply')
    .option('--count <n>', 'with fail-next: how many commands fail', '1')
    .action(async (robot: string, kind: string, value: string | undefined, opts: { count: string }) => {
      const body =
        kind === 'fail-next' ? { kind, code: intArg(value, 'robot error code'), count: intArg(opts.count, '--count') }
        : kind === 'busy' ? { kind, ms: intArg(value, 'busy time in ms') }
        : { kind };
      await new ApiClient().post(`/sim/robots/${encodeURIComponent(robot)}/faults`, body);
      process.stdout.write(`robot ${robot}: ${kind}${value === undefined ? '' : ' ' + value}\n`);
    });
}
