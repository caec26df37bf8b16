import type { Command } from 'commander';
import type { EjectProgress } from '../../shelf/eject-job.ts';
import type { ImportResult } from '../../shelf/service.ts';
import { TapestryError } from '../../src/errors/index.ts';
import { ApiClient } from '../lib/api-client.ts';
import { localUser } from '../lib/format.ts';
import { printJson, table } from '../lib/output.ts';

function checkLabel(label: string): string {
  if (!/^[A-Z0-9]{6,8}$/.test(label)) {
    throw new TapestryError('USERERROR', `illegal volume label ${JSON.stringify(label)}: 6 to 8 capital letters and digits, e.g. TS0021L9`, { context: { label } });
  }
  return label;
}

function checkPolicy(policy: string): 'fail' | 'operator' {
  if (policy !== 'fail' && policy !== 'operator') {
    throw new TapestryError('USERERROR', `shelf policy must be "fail" (a read fails at once) or "operator" (a read waits until the volume is back), got ${JSON.stringify(policy)}`);
  }
  return policy;
}

function printProgress(p: EjectProgress): void {
  process.stdout.write(`eject job ${p.job}: ${p.state}${p.waitingFor === null ? '' : ` (waiting for ${p.waitingFor})`}\n`);
  if (p.results.length > 0) {
    process.stdout.write(table(['LABEL', 'ACTION', 'MAILSLOT', 'DETAIL'], p.results.map((r) => [r.label, r.action, r.mailslot === null ? null : `I${r.mailslot}`, r.message])) + '\n');
  }
}

/** Poll the job until it ends, saying on stderr what it waits for whenever that changes. */
async function follow(api: ApiClient, job: string, json: boolean): Promise<void> {
  let said: string | null = null;
  for (;;) {
    const p = await api.get<EjectProgress>(`/volumes/eject/${encodeURIComponent(job)}`);
    if (p.waitingFor !== null && p.waitingFor !== said && p.state === 'waiting') {
      process.stderr.write(`eject job ${job}: ${p.results.filter((r) => r.action === 'ejected').length} ejected, waiting for ${p.waitingFor}\n`);
    }
    said = p.waitingFor;
    if (p.state === 'done' || p.state === 'failed') {
      if (json) printJson(p);
      else printProgress(p);
      if (p.state === 'failed' || p.results.some((r) => r.action !== 'ejected')) process.exitCode = 1;
      return;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** `volume eject`, `eject-status`, `import`, `set-shelf-policy`: the shelf side of `tapestry volume` (REST: shelf/routes.ts). */
export function registerShelfCommands(volume: Command): void {
  volume
    .command('import')
    .description('enter every cartridge in the mail slots: known volumes go back to a slot, unknown blank ones are declared, others stay')
    .option('--library <library>', 'only this library (default: every library)')
    .option('--json', 'print JSON')
    .action(async (opts: { library?: string; json?: boolean }) => {
      const out = await new ApiClient().post<{ results: ImportResult[] }>('/volumes/import', opts.library === undefined ? {} : { library: opts.library });
      if (opts.json) return printJson(out.results);
      if (out.results.length === 0) return void process.stdout.write('the mail slots are empty: nothing to import\n');
      process.stdout.write(table(['LABEL', 'MAILSLOT', 'ACTION', 'SLOT', 'DETAIL'], out.results.map((r) => [r.label, `I${r.mailslot}`, r.action, r.slot, r.message])) + '\n');
      if (out.results.some((r) => r.action === 'failed')) process.exitCode = 1;
    });

  volume
    .command('eject <label...>')
    .description('move volumes to the mail slots and mark them on the shelf; waits for volumes in drives and for full mail slots (a background job)')
    .requiredOption('--on-access <policy>', 'what a read of the shelved volume does: fail | operator')
    .option('--shelf <where>', 'where the operator keeps them, e.g. "rack 3"')
    .option('--max <n>', 'eject at most n volumes')
    .option('--no-wait', 'print the job id and return; follow it with volume eject-status')
    .option('--json', 'print JSON')
    .action(async (labels: string[], opts: { onAccess: string; shelf?: string; max?: string; wait: boolean; json?: boolean }) => {
      labels.forEach(checkLabel);
      const max = opts.max === undefined ? undefined : Number(opts.max);
      if (max !== undefined && (!Number.isInteger(max) || max < 1)) throw new TapestryError('USERERROR', `--max must be a positive integer, got ${JSON.stringify(opts.max)}`);
      const body = { labels, policy: checkPolicy(opts.onAccess), actor: localUser(), ...(opts.shelf === undefined ? {} : { shelf: opts.shelf }), ...(max === undefined ? {} : { max }) };
      const api = new ApiClient();
      const started = await api.post<EjectProgress>('/volumes/eject', body);
      if (!opts.wait) {
        if (opts.json) printJson(started);
        else process.stdout.write(`eject job ${started.job} started; follow it with: tapestry volume eject-status ${started.job}\n`);
        return;
      }
      await follow(api, started.job, opts.json === true);
    });

  volume
    .command('eject-status <job>')
    .description('progress of an eject job: what each volume did, and what the job waits for')
    .option('--wait', 'wait until the job is done, printing what it waits for')
    .option('--json', 'print JSON')
    .action(async (job: string, opts: { wait?: boolean; json?: boolean }) => {
      const api = new ApiClient();
      if (opts.wait) return follow(api, job, opts.json === true);
      const p = await api.get<EjectProgress>(`/volumes/eject/${encodeURIComponent(job)}`);
      if (opts.json) printJson(p);
      else printProgress(p);
    });

  volume
    .command('set-shelf-policy <label> <policy>')
    .description('policy: fail (a read of the shelved volume fails at once) | operator (the read waits and an alarm asks for the volume)')
    .option('--json', 'print JSON')
    .action(async (label: string, policy: string, opts: { json?: boolean }) => {
      const body = { policy: checkPolicy(policy), actor: localUser() };
      const out = await new ApiClient().post<{ label: string; shelfPolicy: string; previous: string }>(`/volumes/${encodeURIComponent(checkLabel(label))}/shelf-policy`, body);
      if (opts.json) printJson(out);
      else process.stdout.write(`${out.label}: shelf policy ${out.previous} -> ${out.shelfPolicy}\n`);
    });
}
