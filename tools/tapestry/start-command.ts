import type { Command } from 'commander';

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('start Tapestry: database (embedded unless configured), simulated library, robot control and the HTTP API')
    .option('-c, --config <file>', 'config file (default: TAPESTRY_CONFIG or ./tapestry.yaml)')
    .option('--component <name>', 'run one component only (all)', 'all')
    .action(async (opts: { config?: string; component: string }) => {
      if (opts.component !== 'all') {
        const { TapestryError } = await import('../../src/errors/index.ts');
        throw new TapestryError('USERERROR', `unknown component "${opts.component}"; this version runs "all" (the library manager and movers arrive as separate components with the write/read path)`);
      }
      // Loaded here, not at the top: every other CLI command stays quick to start.
      const { startSystem } = await import('./start.ts');
      const system = await startSystem({ configFile: opts.config, installSignalHandlers: true });
      const { url, startupMs } = system;
      process.stdout.write(
        [
          `Tapestry is running at ${url} (started in ${(startupMs / 1000).toFixed(1)} s; API docs at ${url}/docs)`,
          `  try:  npx tapestry robot inventory`,
          `        npx tapestry robot mount TS0001L9 drive-1 && npx tapestry robot dismount TS0001L9 drive-1`,
          `Ctrl-C stops everything.`,
          '',
        ].join('\n'),
      );
    });
}
