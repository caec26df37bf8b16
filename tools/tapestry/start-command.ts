import type { Command } from 'commander';

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('start Tapestry: database (embedded unless configured), simulated library, robot control and the HTTP API')
    .option('-c, --config <file>', 'config file (default: TAPESTRY_CONFIG or ./tapestry.yaml)')
    .option('--component <name>', 'all (default); mover: one mover as its own process (with --name); library-manager: library managers as their own process (leader or standby)', 'all')
    .option('--name <drive>', 'with --component mover: the drive whose mover this is (its config entry says mover: remote)')
    .option('--library <name>', 'with --component library-manager: only this library (default: every configured library)')
    .action(async (opts: { config?: string; component: string; name?: string; library?: string }) => {
      if (opts.component === 'library-manager') {
        const { startLibraryManagerProcess } = await import('./start-library-manager.ts');
        await startLibraryManagerProcess({ ...(opts.library ? { library: opts.library } : {}), ...(opts.config ? { configFile: opts.config } : {}) });
        return;
      }
      if (opts.component === 'mover') {
        const { TapestryError } = await import('../../src/errors/index.ts');
        if (!opts.name) throw new TapestryError('USERERROR', '--component mover needs --name <drive>');
        const { startMoverProcess } = await import('./start-mover.ts');
        await startMoverProcess({ name: opts.name, ...(opts.config ? { configFile: opts.config } : {}) });
        return;
      }
      if (opts.component !== 'all') {
        const { TapestryError } = await import('../../src/errors/index.ts');
        throw new TapestryError('USERERROR', `unknown component "${opts.component}" (all, mover, library-manager)`);
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
