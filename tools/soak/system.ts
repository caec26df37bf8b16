/**
 * The soak's composition: the real components of `tapestry start`'s write
 * path in one process, on the soak's virtual clock — embedded PostgreSQL, the
 * catalogue (namespace, file and volume clerks, alarms), the simulated library
 * (robot served over its pty, LTO-9 drives), a media changer per robot
 * speaking the serial protocol, a library manager per library and a Mover per
 * drive connecting to it over TCP. Only two things differ from
 * tools/tapestry/start.ts: the clock, and each Mover is told which writes are
 * synthetic (tools/soak/synthetic-client.ts). No HTTP API, background jobs or
 * shelf: the soak talks to the request intake directly.
 *
 * A "mover crash" fences the running Mover — every later drive, robot and
 * catalogue call of that instance throws, its library-manager socket is cut,
 * an operation in flight on the drive fails (the drive is set down for the
 * moment) — and starts a new Mover for the drive, as a restarted process would.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { FileClerk } from '../../file-clerk/service.ts';
import type { SimDrive } from '../../hardware-sim/drive.ts';
import { startSimulatedLibrary, type SimulatedLibrary } from '../../hardware-sim/library.ts';
import { Intake } from '../../library-manager/intake.ts';
import type { LibraryManager } from '../../library-manager/service.ts';
import { MediaChangerService } from '../../media-changer/service.ts';
import { Mover, type MoverCatalogue, type MoverChanger } from '../../movers/mover.ts';
import { AlarmService } from '../../src/alarms/index.ts';
import { loadConfig, type TapestryConfig } from '../../src/config/index.ts';
import { createPool, migrate, startEmbeddedPostgres, syncConfigToDb } from '../../src/db/index.ts';
import { TapestryError } from '../../src/errors/index.ts';
import { SerialMediaChanger } from '../../src/hardware/serial-media-changer.ts';
import type { TapeDrive } from '../../src/hardware/types.ts';
import { createLogger, type Logger } from '../../src/logging/index.ts';
import { NamespaceService } from '../../src/namespace/service.ts';
import type { Assign } from '../../src/protocol/index.ts';
import { buildLibraryManager, lmAddressFromDb, moverCatalogue } from '../tapestry/start-transfers.ts';
import { retryingCatalogue } from '../../movers/catalogue-retry.ts';
import { VolumeClerk } from '../../volume-clerk/service.ts';
import { DAY_MS, type SoakOptions } from './options.ts';
import { SoakClock } from './soak-clock.ts';

export const SOAK_LIBRARY = 'lto9';
export const SOAK_DIR = '/soak';
const LTO9_CAPACITY = 18e12;

export interface SoakSystem {
  readonly dir: string;
  readonly config: TapestryConfig;
  readonly clock: SoakClock;
  readonly pool: pg.Pool;
  readonly log: Logger;
  readonly simulator: SimulatedLibrary;
  readonly intake: Intake;
  readonly files: FileClerk;
  readonly volumes: VolumeClerk;
  readonly namespace: NamespaceService;
  readonly manager: LibraryManager;
  readonly driveNames: readonly string[];
  readonly mounts: () => number;
  /** Queries made through the pool so far. */
  readonly queries: () => number;
  /** Kill the Mover of `drive` and start a new one; resolves when the new one is running. */
  crashMover(drive: string): Promise<void>;
  /** Hook called after every successful robot mount (the fault injector counts them). */
  onMount: ((drive: string) => void) | null;
  stop(): Promise<void>;
}

function cartridgesFor(o: SoakOptions): number {
  if (o.cartridges > 0) return o.cartridges;
  const bytes = o.days * DAY_MS / 1000 * o.rateBytesPerSec;
  // Spares: drives hold tapes, suspect pairs and NOACCESS take some out of the choice.
  return Math.ceil((bytes / LTO9_CAPACITY) * 1.5) + 2 * o.drives + 4;
}

function soakYaml(o: SoakOptions): string {
  const n = cartridgesFor(o);
  const drives = Array.from({ length: o.drives }, (_, i) => `  - name: drive-${i + 1}\n    library: ${SOAK_LIBRARY}\n    element: ${i + 1}`).join('\n');
  return `# Written by npm run soak (tools/soak/system.ts).
var_dir: var
http:
  host: 127.0.0.1
  port: 0
log:
  level: warn
  file: var/log/soak.log
media_types:
  LTO9:
    capacity: 18TB
    rate: 400MB/s
    load: 16s
    unload: 56s
    locate_avg: 65s
    rewind_avg: 62s
    block_size: 256KiB
robots:
  robot-1:
    device: sim
    baud: 9600
    slots: ${Math.max(40, n + 4)}
    drives: ${o.drives}
    mailslots: 4
    move: 5s
    command_timeout: 15min
    retries: 3
    retry_delay: 60s
libraries:
  ${SOAK_LIBRARY}:
    robot: robot-1
    media_type: LTO9
    dismount_delay: 60s
    max_dismount_delay: 10min
    # Heartbeats run on wall time while the clock is virtual: a month passes
    # between two of them. A crashed mover is noticed by its closed socket.
    mover_timeout: 500h
    mount_min_bytes: 500GB
    mount_min_files: 10000
    mount_max_age: 2s
drives:
${drives}
simulator:
  time_scale: 1
  tapes_dir: var/tapes
  cartridges:
    - labels: SK0001L9-SK${String(n).padStart(4, '0')}L9
      media_type: LTO9
      robot: robot-1
`;
}

/** A per-instance fence: once `dead`, every call through it throws, as calls of a killed process never happen. */
interface Fence {
  dead: boolean;
}

function fenced<T extends object>(target: T, fence: Fence, what: string): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (fence.dead) throw new TapestryError('UNAVAILABLE', `${what}: this mover instance was killed`);
        return (value as (...a: unknown[]) => unknown).apply(obj, args);
      };
    },
  });
}

export async function startSoakSystem(o: SoakOptions, syntheticSeed: (a: Assign) => number | null): Promise<SoakSystem> {
  const dir = o.dir ? path.resolve(o.dir) : await mkdtemp(path.join(os.tmpdir(), 'tapestry-soak-'));
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755); // PostgreSQL runs as `postgres` when we are root: it must reach var/pg
  const configFile = path.join(dir, 'tapestry.yaml');
  await writeFile(configFile, soakYaml(o));
  const config = loadConfig(configFile);
  await mkdir(path.join(config.varDir, 'log'), { recursive: true });
  const log = createLogger({ level: (process.env.SOAK_LOG_LEVEL as 'warn' | undefined) ?? 'warn', file: config.log.file, console: false });
  const closers: (() => Promise<unknown>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch((err: unknown) => log.error({ event: 'soak.close_failed', err }));
  };

  try {
    const db = await startEmbeddedPostgres({ dataDir: path.join(config.varDir, 'pg'), fast: true, log: log.child({ component: 'postgres' }) });
    closers.push(() => db.stop());
    const pool = createPool(db.url, log.child({ component: 'db' }), 10);
    closers.push(() => pool.end());
    await migrate(pool, { log: log.child({ component: 'migrate' }) });
    await syncConfigToDb(pool, config);

    // The clock holds still while any client is checked out of the pool (a
    // query or transaction in flight), and restarts its quiet window on every checkout and return.
    let clock!: SoakClock;
    clock = new SoakClock({ busy: () => pool.totalCount > pool.idleCount || pool.waitingCount > 0, quietMs: o.quietMs });
    let queries = 0;
    const profile = process.env.SOAK_SQL_PROFILE === '1' ? sqlProfile(pool) : null;
    if (profile) closers.push(async () => profile.print());
    pool.on('acquire', () => {
      queries++;
      clock.poke();
    });
    pool.on('release', () => clock.poke());
    pool.on('remove', () => clock.poke());
    clock.start();
    closers.push(async () => clock.stop());

    const alarms = new AlarmService({ db: pool, clock, log: log.child({ component: 'alarms' }) });
    const namespace = new NamespaceService({ pool, clock, log: log.child({ component: 'namespace' }) });
    const files = new FileClerk({ pool, clock, log: log.child({ component: 'file-clerk' }), namespace, alarms });
    const volumes = new VolumeClerk({ pool, clock, log: log.child({ component: 'volume-clerk' }), alarms });
    await volumes.declareCartridges(config);
    await namespace.mkdir(SOAK_DIR, { parents: true });
    for (const [tag, value] of [['library', SOAK_LIBRARY], ['storage_group', 'soak'], ['file_family', 'daq'], ['file_family_width', String(o.width)], ['file_family_wrapper', 'cpio_odc']] as const) {
      await namespace.tagSet(SOAK_DIR, tag, value);
    }

    const simulator = await startSimulatedLibrary(config, { clock, log: log.child({ component: 'sim' }), cartridges: { syncOnFilemark: false }, serial: 'mock' });
    closers.push(() => simulator.close());

    const robot = [...config.robots.values()][0]!;
    const changer = new SerialMediaChanger({
      ...simulator.endpoint(robot.name),
      baudRate: robot.baudRate,
      clock,
      commandTimeoutMs: robot.commandTimeoutMs,
      retries: robot.retries,
      retryDelayMs: robot.retryDelayMs,
      log: log.child({ component: 'media-changer', robot: robot.name }),
    });
    closers.push(() => changer.close());
    const library = config.libraries.get(SOAK_LIBRARY)!;
    const simDrives = new Map<string, SimDrive>();
    for (const d of config.drives) simDrives.set(d.name, simulator.drives.get(d.name)!);
    const service = new MediaChangerService({
      robot,
      libraries: [library],
      drives: config.drives,
      changer,
      tapeDrives: simDrives as ReadonlyMap<string, TapeDrive>,
      log: log.child({ component: 'media-changer', robot: robot.name }),
      alarms,
    });

    // The library manager and the movers' catalogue exactly as `tapestry start` builds them.
    const manager = buildLibraryManager({ config, pool, clock, log, files, volumes }, library.name);
    await manager.start();
    closers.push(() => manager.stop());
    const lmAddress = lmAddressFromDb(pool, library.name);

    const catalogue = retryingCatalogue(moverCatalogue(files, volumes), { limitMs: config.database.outage.registrationRetryMs, log });
    let mounts = 0;
    const system: SoakSystem = {
      dir, config, clock, pool, log, simulator, files, volumes, namespace, manager,
      intake: new Intake(files, volumes, new Map([[library.name, manager]])),
      driveNames: config.drives.map((d) => d.name),
      mounts: () => mounts,
      queries: () => queries,
      onMount: null,
      crashMover: async (drive) => {
        const running = movers.get(drive);
        if (!running) return;
        movers.delete(drive);
        running.fence.dead = true;
        const sim = simDrives.get(drive)!;
        // The process is gone: its drive command in flight fails, its socket closes.
        sim.setDown(true);
        await running.mover.stop().catch(() => undefined);
        sim.setDown(false);
        await startMover(drive);
      },
      stop: close,
    };

    const movers = new Map<string, { mover: Mover; fence: Fence }>();
    const startMover = async (drive: string): Promise<void> => {
      const fence: Fence = { dead: false };
      const robotMoves: MoverChanger = {
        mount: async (label, d) => {
          const r = await service.mount(label, d);
          mounts++;
          system.onMount?.(d);
          return r;
        },
        dismount: (label, d) => service.dismount(label, d),
      };
      const mover = new Mover({
        name: drive,
        library: library.name,
        drive: fenced(simDrives.get(drive)! as TapeDrive, fence, `drive ${drive}`),
        changer: fenced(robotMoves, fence, `robot for ${drive}`),
        catalogue: fenced<MoverCatalogue>(catalogue, fence, `catalogue for ${drive}`),
        clock,
        log,
        lmAddress,
        syntheticSeed,
      });
      await mover.start();
      movers.set(drive, { mover, fence });
    };
    for (const d of config.drives) await startMover(d.name);
    closers.push(async () => {
      // The library manager first: a mover's stop waits for its work, and a
      // manager still assigning (a retry) would keep adding to it.
      await manager.stop();
      for (const { mover } of movers.values()) await mover.stop();
    });
    return system;
  } catch (err) {
    await close();
    throw err;
  }
}

/** Remove the soak's directory (unless kept). */
export async function removeSoakDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * SOAK_SQL_PROFILE=1: count statements by their first words and print the
 * top ones at the end (where the soak's database round trips go).
 */
function sqlProfile(pool: pg.Pool): { print(): void } {
  const stats = new Map<string, { n: number; ms: number }>();
  const seen = new WeakSet<object>();
  // Wall time with at least one statement in flight: how much of the run waits on PostgreSQL.
  let inFlight = 0;
  let busySince = 0;
  let busyMs = 0;
  const began = performance.now();
  const keyOf = (q: unknown): string => {
    const text = typeof q === 'string' ? q : (q as { text?: string } | null)?.text ?? '?';
    // The first frame of our own code outside this file says who asked.
    const caller = (new Error().stack ?? '').split('\n').slice(3).find((l) => !l.includes('node_modules') && !l.includes('node:') && !l.includes('soak/system.ts'))?.trim().replace(/^at /, '').replace(/\(.*\/(\w[^/]*:\d+):\d+\)$/, '$1') ?? '?';
    return `${text.replace(/\s+/g, ' ').trim().slice(0, 70)}  ← ${caller}`;
  };
  pool.on('acquire', (client) => {
    if (seen.has(client)) return;
    seen.add(client);
    const orig = client.query.bind(client) as (...a: unknown[]) => Promise<unknown>;
    (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      const key = keyOf(a[0]);
      const t0 = performance.now();
      if (inFlight++ === 0) busySince = t0;
      const done = (): void => {
        const t1 = performance.now();
        const st = stats.get(key) ?? { n: 0, ms: 0 };
        st.n++;
        st.ms += t1 - t0;
        stats.set(key, st);
        if (--inFlight === 0) busyMs += t1 - busySince;
      };
      // pool.query passes a callback; everyone else gets a promise.
      const last = a.length - 1;
      if (typeof a[last] === 'function') {
        const cb = a[last] as (...r: unknown[]) => void;
        a[last] = (...r: unknown[]) => { done(); cb(...r); };
        return orig(...a);
      }
      const result = orig(...a);
      result.then(done, done);
      return result;
    };
  });
  return {
    print() {
      const all = [...stats.values()];
      const total = all.reduce((a, b) => a + b.n, 0);
      const wall = performance.now() - began;
      process.stderr.write(`SQL statements: ${total}, ${all.reduce((a, b) => a + b.ms, 0).toFixed(0)} ms summed; a statement in flight ${busyMs.toFixed(0)} of ${wall.toFixed(0)} ms\n`);
      for (const [k, st] of [...stats].sort((a, b) => b[1].ms - a[1].ms).slice(0, 40)) {
        process.stderr.write(`${String(st.n).padStart(7)} ${st.ms.toFixed(0).padStart(7)} ms ${(st.ms / st.n).toFixed(2).padStart(6)}  ${k}\n`);
      }
    },
  };
}
