import type { Command } from 'commander';
import { TapestryError } from '../../src/errors/index.ts';
import { ApiClient } from '../lib/api-client.ts';
import { printJson } from '../lib/output.ts';

function intArg(value: string | undefined, what: string): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 0) throw new TapestryError('USERERROR', `${what} must be a non-negative integer, got ${value ?? 'nothing'}`);
  return n;
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

  const fault = sim.command('fault').description('inject a fault');

  fault
    .command('drive <drive> <kind>')
    .description('kind: fail-next-read | fail-next-write | fail-next-load | down | up')
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
