import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import type { FileClerk } from '../../file-clerk/service.ts';
import type { SimulatedLibrary } from '../../hardware-sim/library.ts';
import { Intake } from '../../library-manager/intake.ts';
import { requestRoutes } from '../../library-manager/routes.ts';
import { LibraryManager } from '../../library-manager/service.ts';
import { DEFAULT_SCHEDULER_CONFIG } from '../../library-manager/types.ts';
import type { MediaChangerService } from '../../media-changer/service.ts';
import { Mover, type MoverCatalogue } from '../../movers/mover.ts';
import type { TapestryConfig } from '../../src/config/index.ts';
import type { Logger } from '../../src/logging/index.ts';
import type { Shutdown } from '../../src/process/shutdown.ts';
import type { Clock } from '../../src/time/clock.ts';
import type { VolumeClerk } from '../../volume-clerk/service.ts';

export interface TransferDeps {
  readonly config: TapestryConfig;
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly log: Logger;
  readonly shutdown: Shutdown;
  readonly simulator: SimulatedLibrary | null;
  readonly changers: readonly MediaChangerService[];
  readonly files: FileClerk;
  readonly volumes: VolumeClerk;
}

/** The mover's catalogue calls, on the file and volume clerks (DESIGN §7 write path order). */
export function moverCatalogue(files: FileClerk, volumes: VolumeClerk): MoverCatalogue {
  return {
    async volume(label) {
      const v = await volumes.getVolume(label);
      return { eodFileNo: v.eodFileNo, blockSize: v.blockSize };
    },
    async labelled(label, tapeBytes) {
      await volumes.recordWrite(label, { eodFileNo: 1, bytesWritten: tapeBytes });
    },
    async registerWrite(w) {
      await files.assignPosition(w.bfid, { volume: w.volume, fileNo: w.fileNo, drive: w.drive, crc: w.crc });
      await volumes.recordWrite(w.volume, { eodFileNo: w.fileNo + 1, bytesWritten: w.tapeBytes });
      await files.activate(w.bfid, w.crc);
    },
    async recordRead(volume) {
      await volumes.recordRead(volume);
    },
    async recordMount(volume, drive) {
      await volumes.recordMount(volume, drive);
    },
    async recordDismount(volume, slot) {
      await volumes.recordDismount(volume, slot);
    },
  };
}

/**
 * The write/read path of `tapestry start`: one library manager per library
 * (its mover port on 127.0.0.1, ephemeral), one mover per drive connecting to
 * it over TCP exactly as a mover on another host would, and the request API.
 */
export async function startTransfers(deps: TransferDeps): Promise<{ plugin: FastifyPluginAsync; managers: ReadonlyMap<string, LibraryManager> }> {
  const managers = new Map<string, LibraryManager>();
  const addresses = new Map<string, string>();
  for (const library of deps.config.libraries.values()) {
    const lm = new LibraryManager({
      library: library.name,
      pool: deps.pool,
      clock: deps.clock,
      log: deps.log,
      volumes: { nextWriteVolume: (req) => deps.volumes.nextWriteVolume(req) },
      config: {
        ...DEFAULT_SCHEDULER_CONFIG,
        dismountDelayMs: library.dismountDelayMs,
        maxDismountDelayMs: library.maxDismountDelayMs,
        mountCriteria: { minBytes: library.mountMinBytes, minFiles: library.mountMinFiles, maxAgeMs: library.mountMaxAgeMs },
      },
      heartbeatTimeoutMs: library.moverTimeoutMs,
      onWriteFailed: (bfid) => deps.files.abandonWriting(bfid),
    });
    addresses.set(library.name, await lm.start('127.0.0.1', 0));
    deps.shutdown.add(`library-manager ${library.name}`, () => lm.stop());
    managers.set(library.name, lm);
  }

  const catalogue = moverCatalogue(deps.files, deps.volumes);
  for (const drive of deps.config.drives) {
    if (drive.mover === 'remote') continue; // runs as `tapestry start --component mover --name <drive>`
    const tape = deps.simulator?.drives.get(drive.name);
    const changer = deps.changers.find((c) => c.robotName === drive.robot);
    if (!tape || !changer) {
      deps.log.warn({ event: 'mover.not_started', drive: drive.name, reason: tape ? 'no media changer' : 'no local drive' });
      continue;
    }
    const mover = new Mover({
      name: drive.name,
      library: drive.library,
      drive: tape,
      changer,
      catalogue,
      clock: deps.clock,
      log: deps.log,
      lmAddress: async () => addresses.get(drive.library)!,
    });
    await mover.start();
    deps.shutdown.add(`mover ${drive.name}`, () => mover.stop());
  }

  const intake = new Intake(deps.files, deps.volumes, managers);
  return { plugin: requestRoutes(intake, managers, deps.pool), managers };
}
