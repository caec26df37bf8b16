import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { FileClerk } from '../../file-clerk/service.ts';
import type { LibraryManager } from '../../library-manager/service.ts';
import { AlarmService } from '../../src/alarms/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createPool, embeddedUrl, migrate, syncConfigToDb } from '../../src/db/index.ts';
import { TapestryError } from '../../src/errors/index.ts';
import { createLogger } from '../../src/logging/index.ts';
import { NamespaceService } from '../../src/namespace/service.ts';
import { Shutdown } from '../../src/process/shutdown.ts';
import { SystemClock } from '../../src/time/clock.ts';
import { VolumeClerk } from '../../volume-clerk/service.ts';
import { buildLibraryManager } from './start-transfers.ts';

/**
 * `tapestry start --component library-manager [--library L]`: library
 * managers as their own process, with the file and volume clerks they call
 * (docs/faults-process.md). Each takes part in its library's election: it
 * leads when it holds the library's advisory lock, otherwise it stands by and
 * takes over within about a second of the leader's death. It serves no HTTP:
 * the request API of any `tapestry start` reaches it through the database.
 */
export async function startLibraryManagerProcess(options: { configFile?: string; library?: string }): Promise<void> {
  const config = loadConfig(options.configFile);
  const names = options.library ? [options.library] : [...config.libraries.keys()];
  for (const name of names) {
    if (!config.libraries.has(name)) throw new TapestryError('USERERROR', `no library "${name}" in ${config.source} (libraries: ${[...config.libraries.keys()].join(', ')})`);
  }
  if (config.log.file) mkdirSync(path.dirname(config.log.file), { recursive: true });
  const suffix = options.library ? `-lm-${options.library}-${process.pid}.log` : `-lm-${process.pid}.log`;
  const log = createLogger({ level: config.log.level, file: config.log.file ? config.log.file.replace(/\.log$/, suffix) : null, pretty: process.stderr.isTTY }).child({ process: `library-manager ${process.pid}` });
  const shutdown = new Shutdown(log);
  shutdown.installSignalHandlers();
  try {
    const url = config.database.url ?? (await embeddedUrl(config.database.embeddedDataDir));
    const pool = createPool(url, log);
    shutdown.add('db-pool', () => pool.end());
    // Safe beside a running `tapestry start`: migrations take their own lock, the config sync is idempotent.
    await migrate(pool, { log: log.child({ component: 'migrate' }) });
    await syncConfigToDb(pool, config);
    const clock = new SystemClock();
    const alarms = new AlarmService({ db: pool, clock, log });
    const namespace = new NamespaceService({ pool, clock, log });
    const files = new FileClerk({ pool, clock, log, namespace, alarms });
    const volumes = new VolumeClerk({ pool, clock, log, alarms });
    const managers: LibraryManager[] = [];
    for (const name of names) {
      const lm = buildLibraryManager({ config, pool, clock, log, files, volumes }, name);
      await lm.start();
      shutdown.add(`library-manager ${name}`, () => lm.stop());
      managers.push(lm);
    }
    const roles = managers.map((lm) => `${lm.library}: ${lm.isLeader ? `leader on ${lm.moverPort}` : 'standby'}`).join(', ');
    process.stdout.write(`library manager running (pid ${process.pid}; ${roles})\n`);
  } catch (err) {
    await shutdown.run('start failed');
    throw err;
  }
}
