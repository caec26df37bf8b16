import type { Command } from 'commander';
import type { Alarm } from '../../src/alarms/repo.ts';
import { TapestryError } from '../../src/errors/index.ts';
import { ApiClient } from '../lib/api-client.ts';
import { localUser, query } from '../lib/format.ts';
import { printJson, table } from '../lib/output.ts';

export function registerAlarmCommands(program: Command): void {
  const alarm = program.command('alarm').description('operator alarms: list and resolve');

  alarm
    .command('list')
    .description('open alarms, most recent first')
    .option('--all', 'include resolved alarms')
    .option('--json', 'print JSON')
    .action(async (opts: { all?: boolean; json?: boolean }) => {
      const alarms = await new ApiClient().get<Alarm[]>(`/alarms${query({ all: opts.all ? true : undefined })}`);
      if (opts.json) return printJson(alarms);
      if (alarms.length === 0) return void process.stdout.write('no open alarms\n');
      process.stdout.write(table(
        ['ID', 'SEVERITY', 'CODE', 'COUNT', 'LAST', 'STATE', 'MESSAGE'],
        alarms.map((a) => [a.id, a.severity, a.code, a.count, a.lastAt, a.resolvedAt ? `resolved by ${a.resolvedBy}` : 'open', a.message]),
      ) + '\n');
    });

  alarm
    .command('resolve <id>')
    .description('mark an alarm resolved')
    .action(async (id: string) => {
      if (!/^[1-9][0-9]*$/.test(id)) throw new TapestryError('USERERROR', `alarm id must be a positive whole number, not ${JSON.stringify(id)}`);
      const a = await new ApiClient().post<Alarm>(`/alarms/${id}/resolve`, { by: localUser() });
      process.stdout.write(`alarm ${a.id} (${a.code}) resolved\n`);
    });
}
