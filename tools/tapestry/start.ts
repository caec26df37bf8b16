import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { exportRoutes } from '../../export/routes.ts';
import { ExportService } from '../../export/service.ts';
import { fileClerkRoutes } from '../../file-clerk/routes.ts';
import { FileClerk } from '../../file-clerk/service.ts';
import { SimulatedLibrary, startSimulatedLibrary } from '../../hardware-sim/library.ts';
import { simRoutes } from '../../hardware-sim/routes.ts';
import { mediaChangerRoutes } from '../../media-changer/routes.ts';
import { MediaChangerService } from '../../media-changer/service.ts';
import { alarmRoutes, AlarmService } from '../../src/alarms/index.ts';
import { loadConfig, type TapestryConfig } from '../../src/config/index.ts';
import { createPool, DbAvailability, migrate, startEmbeddedPostgres, syncConfigToDb } from '../../src/db/index.ts';
import { SerialMediaChanger } from '../../src/hardware/serial-media-changer.ts';
import type { MediaChanger, TapeDrive } from '../../src/hardware/types.ts';
import { healthRoutes } from '../../src/http/health.ts';
import { buildServer } from '../../src/http/server.ts';
import { createLogger, type Logger } from '../../src/logging/index.ts';
import { namespaceRoutes } from '../../src/namespace/routes.ts';
import { reportRoutes } from '../../reports/routes.ts';
import { NamespaceService } from '../../src/namespace/service.ts';
import { Shutdown } from '../../src/process/shutdown.ts';
import { SystemClock } from '../../src/time/clock.ts';
import { VERSION } from '../../src/version.ts';
import { startTransfers } from './start-transfers.ts';
import { volumeClerkRoutes } from '../../volume-clerk/routes.ts';
import { VolumeClerk } from '../../volume-clerk/service.ts';
import { JobRunner } from '../../src/jobs/index.ts';
import { startVolumeAdmin } from '../../volume-clerk/admin.ts';
import { startShelf } from '../../shelf/start.ts';

export interface StartOptions {
  configFile?: string;
  /** Override the loaded config (tests: another port, another var dir). */
  config?: TapestryConfig;
  log?: Logger;
  installSignalHandlers?: boolean;
}

export interface RunningSystem {
  readonly url: string;
  readonly config: TapestryConfig;
  readonly pool: pg.Pool;
  readonly simulator: SimulatedLibrary | null;
  readonly startupMs: number;
  readonly shutdown: Shutdown;
  stop(): Promise<void>;
}

/**
 * The composition root of `tapestry start` (DESIGN §3): everything in one
 * process. Each step registers its closer, so a failure half-way, a signal or
 * stop() closes what was started, in reverse order (HTTP first, database last).
 */
export async function startSystem(options: StartOptions = {}): Promise<RunningSystem> {
  const started = Date.now();
  const config = options.config ?? loadConfig(options.configFile);
  mkdirSync(config.varDir, { recursive: true });
  if (config.log.file) mkdirSync(path.dirname(config.log.file), { recursive: true });
  const log = options.log ?? createLogger({ level: config.log.level, file: config.log.file, pretty: process.stderr.isTTY });
  const shutdown = new Shutdown(log);
  if (options.installSignalHandlers) shutdown.installSignalHandlers();

  try {
    // 1. Database: the configured server, or our own embedded PostgreSQL.
    let url = config.database.url;
    if (!url) {
      const db = await startEmbeddedPostgres({ dataDir: config.database.embeddedDataDir, port: config.database.embeddedPort, log: log.child({ component: 'postgres' }) });
      shutdown.add('postgres', () => db.stop());
      url = db.url;
    }
    const pool = createPool(url, log.child({ component: 'db' }));
    shutdown.add('db-pool', () => pool.end());
    await migrate(pool, { log: log.child({ component: 'migrate' }) });
    await syncConfigToDb(pool, config);
    const availability = new DbAvailability({ db: pool, log, intervalMs: config.database.outage.checkIntervalMs });
    availability.start();
    shutdown.add('db-availability', () => availability.stop());

    // The catalogue: alarms, namespace, file clerk, volume clerk (the simulated cartridges are declared as blank volumes).
    const clock = new SystemClock();
    const alarms = new AlarmService({ db: pool, clock, log: log.child({ component: 'alarms' }) });
    const namespace = new NamespaceService({ pool, clock, log: log.child({ component: 'namespace' }) });
    const fileClerk = new FileClerk({ pool, clock, log: log.child({ component: 'file-clerk' }), namespace, alarms });
    const volumeClerk = new VolumeClerk({ pool, clock, log: log.child({ component: 'volume-clerk' }), alarms });
    await volumeClerk.declareCartridges(config);
    // Background jobs (BullMQ on this database) and the volume clerk's operator side (lifecycle, quotas, auto read-only).
    const jobs = await JobRunner.start({ url, log: log.child({ component: 'jobs' }) });
    shutdown.add('jobs', () => jobs.close());
    const volumeAdmin = await startVolumeAdmin({ pool, clock, log: log.child({ component: 'volume-clerk' }), clerk: volumeClerk, config, jobs, alarms });

    // 2. The simulated library (robots on pty pairs, drives, cartridges), when configured.
    let simulator: SimulatedLibrary | null = null;
    if ([...config.robots.values()].some((r) => r.device === 'sim')) {
      simulator = await startSimulatedLibrary(config, { clock: new SystemClock(config.simulator?.timeScale ?? 1), log: log.child({ component: 'sim' }) });
      shutdown.add('simulator', () => simulator!.close());
    }

    // 3. Robot control: one media changer per robot, speaking the serial protocol.
    const services: MediaChangerService[] = [];
    for (const robot of config.robots.values()) {
      const endpoint = robot.device === 'sim' ? simulator!.endpoint(robot.name) : { path: robot.device };
      const changer: MediaChanger = new SerialMediaChanger({
        ...endpoint,
        baudRate: robot.baudRate,
        clock: new SystemClock(),
        commandTimeoutMs: robot.commandTimeoutMs,
        retries: robot.retries,
        retryDelayMs: robot.device === 'sim' ? robot.retryDelayMs * (config.simulator?.timeScale ?? 1) : robot.retryDelayMs,
        log: log.child({ component: 'media-changer', robot: robot.name }),
      });
      shutdown.add(`media-changer ${robot.name}`, () => changer.close());
      const drives = config.drives.filter((d) => d.robot === robot.name);
      const tapeDrives = new Map<string, TapeDrive>();
      for (const d of drives) {
        // A remote mover threads its drive itself; here the robot only places the cartridge.
        const sim = d.mover === 'local' ? simulator?.drives.get(d.name) : undefined;
        if (sim) tapeDrives.set(d.name, sim);
      }
      services.push(new MediaChangerService({
        robot,
        libraries: [...config.libraries.values()].filter((l) => l.robot === robot.name),
        drives,
        changer,
        tapeDrives,
        log: log.child({ component: 'media-changer', robot: robot.name }),
        alarms,
      }));
    }

    // 4. The write/read path: a library manager per library, a mover per drive, the request API.
    const transfers = await startTransfers({ config, pool, clock, log, shutdown, simulator, changers: services, files: fileClerk, volumes: volumeClerk, availability });

    // 5. HTTP API last, so it only answers once everything behind it is up.
    const app = await buildServer({
      log,
      version: VERSION,
      plugins: [
        healthRoutes({ db: pool, version: VERSION, startedAt: started, libraries: [...config.libraries.keys()], availability }),
        mediaChangerRoutes(services),
        alarmRoutes(alarms),
        namespaceRoutes(namespace),
        fileClerkRoutes(fileClerk),
        volumeClerkRoutes(volumeClerk),
        volumeAdmin.plugin,
        exportRoutes(new ExportService({ pool, clock, log: log.child({ component: 'export' }), config, namespace, files: fileClerk, volumes: volumeClerk, simulator, changers: services, version: VERSION })),
        reportRoutes({ db: pool, clock }),
        transfers.plugin,
        startShelf({ pool, clock, log, volumes: volumeClerk, changers: services, simulator, managers: transfers.managers, alarms, jobs, shutdown }),
        ...(simulator ? [simRoutes(simulator)] : []),
      ],
    });
    await app.listen({ host: config.http.host, port: config.http.port });
    shutdown.add('http', () => app.close());
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.http.port;
    const httpUrl = `http://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${port}`;
    const startupMs = Date.now() - started;
    log.info({ event: 'tapestry.started', url: httpUrl, ms: startupMs, version: VERSION });
    return { url: httpUrl, config, pool, simulator, startupMs, shutdown, stop: () => shutdown.run('stop') };
  } catch (err) {
    await shutdown.run('start failed');
    throw err;
  }
}
