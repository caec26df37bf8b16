import type { Command } from 'commander';
import { checkConfigFile, DEFAULT_CONFIG_FILE } from '../../src/config/index.ts';
import { printJson } from '../lib/output.ts';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('the configuration file');
  config
    .command('check [file]')
    .description(`validate a config file (default: TAPESTRY_CONFIG or ./${DEFAULT_CONFIG_FILE}) and list every problem`)
    .option('--json', 'print JSON')
    .action((file: string | undefined, opts: { json?: boolean }) => {
      const result = checkConfigFile(file ?? process.env.TAPESTRY_CONFIG ?? DEFAULT_CONFIG_FILE);
      const ok = result.problems.length === 0;
      if (opts.json) {
        printJson({ file: result.file, ok, problems: result.problems });
      } else if (ok) {
        const c = result.config!;
        const cartridges = c.simulator?.cartridges.length ?? 0;
        process.stdout.write(`${result.file}: ok (${c.libraries.size} libraries, ${c.robots.size} robots, ${c.drives.length} drives, ${cartridges} simulated cartridges)\n`);
      } else {
        process.stderr.write(`${result.file}: ${result.problems.length} problem(s)\n`);
        for (const p of result.problems) process.stderr.write(`  ${p.path}: ${p.message}\n`);
      }
      process.exitCode = ok ? 0 : 1;
    });
}
