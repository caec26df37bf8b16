import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import { cartridgeIsBlank } from '../hardware-sim/mailslot.ts';
import type { SimulatedLibrary } from '../hardware-sim/library.ts';
import type { LibraryManager } from '../library-manager/service.ts';
import type { MediaChangerService } from '../media-changer/service.ts';
import type { AlarmService } from '../src/alarms/index.ts';
import type { JobRunner } from '../src/jobs/index.ts';
import type { Logger } from '../src/logging/index.ts';
import type { Clock } from '../src/time/clock.ts';
import type { VolumeClerk } from '../volume-clerk/service.ts';
import { shelfRoutes } from './routes.ts';
import { EjectJobs } from './eject-job.ts';
import { ShelfFetchAlarms } from './fetch-alarms.ts';
import { ShelfService } from './service.ts';

export interface ShelfStartDeps {
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly log: Logger;
  readonly volumes: VolumeClerk;
  readonly changers: readonly MediaChangerService[];
  readonly simulator: SimulatedLibrary | null;
  readonly managers: ReadonlyMap<string, Pick<LibraryManager, 'schedule' | 'onShelvedReads' | 'moverSummary' | 'holdLeavingVolumes'>>;
  readonly alarms: Pick<AlarmService, 'raise' | 'resolveCause'>;
  readonly jobs: Pick<JobRunner, 'define' | 'enqueue'>;
  readonly shutdown: { add(name: string, close: () => void): void };
}

/** Wire the shelf component into the composition root; returns its routes. */
export function startShelf(deps: ShelfStartDeps): FastifyPluginAsync {
  const sim = deps.simulator;
  const log = deps.log.child({ component: 'shelf' });
  const fetch = new ShelfFetchAlarms(deps.alarms, log);
  for (const lm of deps.managers.values()) lm.onShelvedReads((held) => fetch.raise(held));
  const shelf = new ShelfService({
    pool: deps.pool,
    clock: deps.clock,
    log,
    volumes: deps.volumes,
    changers: deps.changers,
    // Only the simulator can look at a tape without a drive; real hardware answers "cannot tell".
    isBlank: async (label) => (sim ? cartridgeIsBlank(sim, label) : null),
    // Reads held for a shelved volume wait in the queue: schedule them now that it is back.
    busyVolumes: (library) => deps.managers.get(library)?.moverSummary().flatMap((m) => (m.volume === null ? [] : [m.volume])) ?? [],
    onReturned: (library, labels) => {
      void fetch.returned(labels); // logs its own failures
      deps.managers.get(library)?.schedule();
    },
  });
  const scheduleAll = (): void => {
    for (const lm of deps.managers.values()) lm.schedule();
  };
  const ejects = new EjectJobs({ shelf, jobs: deps.jobs, clock: deps.clock, log, onReleased: scheduleAll });
  for (const lm of deps.managers.values()) lm.holdLeavingVolumes(() => ejects.leavingVolumes());
  // Closers run in reverse order: this one before the job runner, which waits for a running job.
  deps.shutdown.add('shelf', () => ejects.stop());
  return shelfRoutes(shelf, ejects);
}
