import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import type { FileClerk } from '../../file-clerk/service.ts';
import type { SimulatedLibrary } from '../../hardware-sim/library.ts';
import { Intake } from '../../library-manager/intake.ts';
import { requestRoutes } from '../../library-manager/routes.ts';
import { LibraryManager } from '../../library-manager/service.ts';
import { RequestEvents } from '../../library-manager/request-events.ts';
import { TapestryError } from '../../src/errors/index.ts';
import { DEFAULT_SCHEDULER_CONFIG } from '../../library-manager/types.ts';
import type { MediaChangerService } from '../../media-changer/service.ts';
import { Mover, type MoverCatalogue } from '../../movers/mover.ts';
import { retryingCatalogue } from '../../movers/catalogue-retry.ts';
import type { DbAvailability } from '../../src/db/availability.ts';
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
  /** The database watcher: library managers pause scheduling while it is down, movers retry their registration. */
  readonly availability?: DbAvailability;
}

/** The mover's catalogue calls, on the file and volume clerks (DESIGN §7 write path order). */
export function moverCatalogue(files: FileClerk, volumes: VolumeClerk): MoverCatalogue {
  return {
    async volume(label) {
      const v = await volumes.getVolume(label);
      return { eodFileNo: v.eodFileNo, blockSize: v.blockSize };
    },
    async labelled(label, tapeBytes) {
      await volumes.recordWrite(label, { eodFileNo: 1, bytesWritten: tapeBytes, replayOf: 'VOL1' });
    },
    async registerWrite(w) {
      // Each step is idempotent for this bfid: the mover repeats all three after a database outage.
      await files.assignPosition(w.bfid, { volume: w.volume, fileNo: w.fileNo, drive: w.drive, crc: w.crc, replaceUnregistered: true });
      await volumes.recordWrite(w.volume, { eodFileNo: w.fileNo + 1, bytesWritten: w.tapeBytes, replayOf: w.bfid });
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

/** A library's manager as configured (leader or standby: the election decides). */
export function buildLibraryManager(deps: Pick<TransferDeps, 'config' | 'pool' | 'clock' | 'log' | 'files' | 'volumes' | 'availability'>, libraryName: string, events?: RequestEvents): LibraryManager {
  const library = deps.config.libraries.get(libraryName)!;
  return new LibraryManager({
    library: library.name,
    pool: deps.pool,
    clock: deps.clock,
    log: deps.log,
    volumes: { nextWriteVolume: (req) => deps.volumes.nextWriteVolume(req), setInhibit: (label, change, actor, reason) => deps.volumes.setInhibit(label, change, actor, reason) },
    faults: library.faults,
    config: {
      ...DEFAULT_SCHEDULER_CONFIG,
      dismountDelayMs: library.dismountDelayMs,
      maxDismountDelayMs: library.maxDismountDelayMs,
      mountCriteria: { minBytes: library.mountMinBytes, minFiles: library.mountMinFiles, maxAgeMs: library.mountMaxAgeMs },
    },
    heartbeatTimeoutMs: library.moverTimeoutMs,
    onWriteFailed: (bfid) => deps.files.abandonWriting(bfid),
    ...(deps.availability ? { availability: deps.availability } : {}),
    ...(events ? { events } : {}),
    electionRetryMs: deps.config.failover.electionRetryMs,
    ...(deps.config.failover.takeoverGraceMs !== null ? { takeoverGraceMs: deps.config.failover.takeoverGraceMs } : {}),
  });
}

/**
 * Where a mover finds its library's leading manager: `libraries.lm_address`,
 * written by whichever instance won the election, so movers follow a
 * fail-over by reconnecting.
 */
export function lmAddressFromDb(pool: pg.Pool, library: string): () => Promise<string> {
  return async () => {
    const { rows } = await pool.query<{ lm_address: string | null }>('SELECT lm_address FROM libraries WHERE name = $1', [library]);
    const address = rows[0]?.lm_address;
    if (!address) throw new TapestryError('UNAVAILABLE', `the library manager of ${library} has not started yet`);
    return address;
  };
}

/**
 * The write/read path of `tapestry start`: one library manager per library
 * taking part in its library's election (docs/faults-process.md), one mover
 * per local drive connecting over TCP to whichever manager leads, exactly as
 * a mover on another host would, and the request API, which reaches the
 * queue through the database.
 */
export async function startTransfers(deps: TransferDeps): Promise<{ plugin: FastifyPluginAsync; managers: ReadonlyMap<string, LibraryManager> }> {
  const managers = new Map<string, LibraryManager>();
  const events = new RequestEvents(deps.pool, deps.log);
  await events.start();
  deps.shutdown.add('request-events', () => events.stop());
  for (const library of deps.config.libraries.values()) {
    const lm = buildLibraryManager(deps, library.name, events);
    await lm.start();
    deps.shutdown.add(`library-manager ${library.name}`, () => lm.stop());
    managers.set(library.name, lm);
  }

  const catalogue = retryingCatalogue(moverCatalogue(deps.files, deps.volumes), { limitMs: deps.config.database.outage.registrationRetryMs, log: deps.log, ...(deps.availability ? { availability: deps.availability } : {}) });
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
      lmAddress: lmAddressFromDb(deps.pool, drive.library),
      rereadOneIn: deps.config.libraries.get(drive.library)?.faults.rereadOneIn ?? 0,
    });
    await mover.start();
    deps.shutdown.add(`mover ${drive.name}`, () => mover.stop());
  }

  const intake = new Intake(deps.files, deps.volumes, managers);
  return { plugin: requestRoutes(intake, managers, deps.pool), managers };
}
