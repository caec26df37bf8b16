import { Command, CommanderError } from 'commander';
import { reportError } from '../lib/output.ts';
import { registerAlarmCommands } from './alarm-commands.ts';
import { registerConfigCommands } from './config-commands.ts';
import { registerFileCommands } from './file-commands.ts';
import { registerLibraryCommands } from './library-commands.ts';
import { registerMoverCommands } from './mover-commands.ts';
import { registerNamespaceCommands } from './ns-commands.ts';
import { registerReportCommands } from './report-commands.ts';
import { registerRequestCommands } from './request-commands.ts';
import { registerRobotCommands } from './robot-commands.ts';
import { registerSimCommands } from './sim-commands.ts';
import { registerStartCommand } from './start-command.ts';
import { registerTapeCommands } from './tape-commands.ts';
import { registerVolumeCommands } from './volume-commands.ts';
import { registerQuotaCommands } from './quota-commands.ts';
import { VERSION } from '../../src/version.ts';

/** `tapestry`: the admin and operator CLI, a thin client of the REST API (plus `start`). */
export function buildProgram(): Command {
  const program = new Command('tapestry')
    .description('Tapestry tape storage manager: admin and operator commands')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  registerStartCommand(program);
  registerConfigCommands(program);
  registerRobotCommands(program);
  registerSimCommands(program);
  registerNamespaceCommands(program);
  registerFileCommands(program);
  registerVolumeCommands(program);
  registerQuotaCommands(program);
  registerAlarmCommands(program);
  registerTapeCommands(program);
  registerLibraryCommands(program);
  registerRequestCommands(program);
  registerMoverCommands(program);
  registerReportCommands(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end through here with exit code 0; usage errors get 2.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    process.exitCode = reportError('tapestry', err);
  }
}
