import type { Command } from 'commander';
import { shortTime } from '../../reports/format.ts';
import { ALARM_SEVERITIES, type Alarm, type AlarmSeverity } from '../../src/alarms/repo.ts';
import { TapestryError } from '../../src/errors/index.ts';
import { ApiClient } from '../lib/api-client.ts';
import { localUser, query } from '../lib/format.ts';
import { printJson, table } from '../lib/output.ts';

export function registerAlarmCommands(program: Command): void {
  const alarm = program.command('alarm').description('operator alarms: list and resolve');

  alarm
    .command('list')
    .description('open alarms, one per cause with how often and when it was first and last seen; most recent first')
    .option('--all', 'include resolved alarms')
    .option('--severity <level>', `only this severity or worse: ${ALARM_SEVERITIES.join(' | ')}`)
    .option('--json', 'print JSON')
    .action(async (opts: { all?: boolean; severity?: string; json?: boolean }) => {
      if (opts.severity !== undefined && !ALARM_SEVERITIES.includes(opts.severity as AlarmSeverity)) {
        throw new TapestryError('USERERROR', `unknown severity ${JSON.stringify(opts.severity)} (${ALARM_SEVERITIES.join(', ')})`);
      }
      const alarms = await new ApiClient().get<Alarm[]>(`/alarms${query({ all: opts.all ? true : undefined, severity: opts.severity })}`);
      if (opts.json) return printJson(alarms);
      if (alarms.length === 0) return void process.stdout.write(opts.all ? 'no alarms\n' : 'no open alarms\n');
      process.stdout.write(table(
        ['ID', 'SEVERITY', 'CAUSE', 'COUNT', 'FIRST SEEN', 'LAST SEEN', 'STATE', 'MESSAGE'],
        alarms.map((a) => [a.id, a.severity, a.key, a.count, shortTime(a.firstAt), shortTime(a.lastAt), a.resolvedAt ? `resolved by ${a.resolvedBy}` : 'open', a.message]),
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
