import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { FileClerk } from '../../file-clerk/service.ts';
import { CartridgeStore } from '../../hardware-sim/cartridge-store.ts';
import { SimDrive } from '../../hardware-sim/drive.ts';
import type { LibraryInventory } from '../../media-changer/service.ts';
import { Mover, type MoverChanger } from '../../movers/mover.ts';
import { AlarmService } from '../../src/alarms/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { assertSchemaCompatible, createPool, embeddedUrl } from '../../src/db/index.ts';
import { TapestryError } from '../../src/errors/index.ts';
import { createLogger } from '../../src/logging/index.ts';
import { NamespaceService } from '../../src/namespace/service.ts';
import { Shutdown } from '../../src/process/shutdown.ts';
import { SystemClock } from '../../src/time/clock.ts';
import { VolumeClerk } from '../../volume-clerk/service.ts';
import { ApiClient } from '../lib/api-client.ts';
import { lmAddressFromDb, moverCatalogue } from './start-transfers.ts';
import { retryingCatalogue } from '../../movers/catalogue-retry.ts';

/**
 * Robot moves for a mover in its own process: the media changer lives with
 * the robot (the API process); this mover threads and unthreads its own drive.
 */
class RemoteChanger implements MoverChanger {
  constructor(private readonly api: ApiClient, private readonly library: string, private readonly drive: SimDrive) {}

  async mount(label: string, drive: string): Promise<unknown> {
    await this.api.post(`/libraries/${encodeURIComponent(this.library)}/mount`, { label, drive });
    this.drive.insert(label);
    await this.drive.load();
    return {};
  }

  async dismount(label: string, drive: string): Promise<{ toSlot?: number }> {
    if (this.drive.status().state !== 'empty') {
      await this.drive.unload();
      this.drive.take();
    }
    return this.api.post<{ toSlot?: number }>(`/libraries/${encodeURIComponent(this.library)}/dismount`, { label, drive });
  }

  /** A cartridge left in the bay by an earlier run goes home before this mover takes work. */
  async clearBay(drive: string): Promise<void> {
    const inv = await this.api.get<LibraryInventory>(`/libraries/${encodeURIComponent(this.library)}`);
    const bay = inv.drives.find((d) => d.name === drive);
    if (bay?.label) await this.api.post(`/libraries/${encodeURIComponent(this.library)}/dismount`, { label: bay.label, drive });
  }
}

/**
 * `tapestry start --component mover --name <drive>`: one mover as its own
 * process, as on a mover host. It joins the same database (TAPESTRY_DATABASE_URL,
 * or the running embedded one), finds its library manager's address there,
 * asks the API for robot moves and drives its tape itself.
 */
export async function startMoverProcess(options: { configFile?: string; name: string }): Promise<void> {
  const config = loadConfig(options.configFile);
  const driveConfig = config.drives.find((d) => d.name === options.name);
  if (!driveConfig) throw new TapestryError('USERERROR', `no drive "${options.name}" in ${config.source} (drives: ${config.drives.map((d) => d.name).join(', ')})`);
  if (!config.simulator) throw new TapestryError('CONFIG_INVALID', 'a mover process needs a drive; only simulated drives are implemented (simulator section)');
  if (config.log.file) mkdirSync(path.dirname(config.log.file), { recursive: true });
  const log = createLogger({ level: config.log.level, file: config.log.file ? config.log.file.replace(/\.log$/, `-${options.name}.log`) : null, pretty: process.stderr.isTTY }).child({ process: `mover ${options.name}` });
  const shutdown = new Shutdown(log);
  shutdown.installSignalHandlers();
  try {
    const url = config.database.url ?? (await embeddedUrl(config.database.embeddedDataDir));
    const pool = createPool(url, log);
    shutdown.add('db-pool', () => pool.end());
    await assertSchemaCompatible(pool);
    const clock = new SystemClock();
    const alarms = new AlarmService({ db: pool, clock, log });
    const namespace = new NamespaceService({ pool, clock, log });
    const files = new FileClerk({ pool, clock, log, namespace, alarms });
    const volumes = new VolumeClerk({ pool, clock, log, alarms });

    const store = new CartridgeStore(config.simulator.tapesDir);
    shutdown.add('cartridges', () => store.close());
    const drive = new SimDrive({
      name: driveConfig.name,
      element: driveConfig.element,
      mediaType: config.mediaTypes.get(driveConfig.mediaType)!,
      clock: new SystemClock(config.simulator.timeScale),
      store,
    });
    const api = new ApiClient(process.env.TAPESTRY_URL ?? `http://${config.http.host}:${config.http.port}`);
    const changer = new RemoteChanger(api, driveConfig.library, drive);
    await changer.clearBay(driveConfig.name);
    const mover = new Mover({
      name: driveConfig.name,
      library: driveConfig.library,
      drive,
      changer,
      catalogue: retryingCatalogue(moverCatalogue(files, volumes), { limitMs: config.database.outage.registrationRetryMs, log }),
      clock,
      log,
      lmAddress: lmAddressFromDb(pool, driveConfig.library),
      rereadOneIn: config.libraries.get(driveConfig.library)?.faults.rereadOneIn ?? 0,
    });
    await mover.start();
    shutdown.add('mover', () => mover.stop());
    process.stdout.write(`mover ${driveConfig.name} running (library ${driveConfig.library})\n`);
  } catch (err) {
    await shutdown.run('start failed');
    throw err;
  }
}
