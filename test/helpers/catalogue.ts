import type pg from 'pg';
import { FileClerk } from '../../file-clerk/service.ts';
import { AlarmService } from '../../src/alarms/service.ts';
import { silentLogger } from '../../src/logging/index.ts';
import { NamespaceService } from '../../src/namespace/service.ts';
import { VirtualClock } from '../../src/time/clock.ts';
import { VolumeClerk } from '../../volume-clerk/service.ts';

/** The catalogue services on one database, as `tapestry start` wires them, on a virtual clock. */
export interface Catalogue {
  readonly pool: pg.Pool;
  readonly clock: VirtualClock;
  readonly alarms: AlarmService;
  readonly namespace: NamespaceService;
  readonly files: FileClerk;
  readonly volumes: VolumeClerk;
}

/** Media type TEST holds `capacity` bytes; libraries `lib` (TEST) and, optionally, more. */
export async function seedLibraries(pool: pg.Pool, options: { capacity?: number; libraries?: readonly string[] } = {}): Promise<void> {
  await pool.query(`INSERT INTO media_types (name, capacity_bytes, block_size) VALUES ('TEST', $1, 512), ('OTHER', 1000, 512)`, [options.capacity ?? 1_000_000]);
  for (const lib of options.libraries ?? ['lib']) {
    await pool.query(`INSERT INTO libraries (name, robot, media_type) VALUES ($1, 'robot', 'TEST')`, [lib]);
  }
}

export function catalogue(pool: pg.Pool, clock = new VirtualClock()): Catalogue {
  const log = silentLogger();
  const alarms = new AlarmService({ db: pool, clock, log });
  const namespace = new NamespaceService({ pool, clock, log });
  return {
    pool,
    clock,
    alarms,
    namespace,
    files: new FileClerk({ pool, clock, log, namespace, alarms }),
    volumes: new VolumeClerk({ pool, clock, log, alarms }),
  };
}
