import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SerialPortStream } from '@serialport/stream';
import { SerialPort } from 'serialport';
import type { BindingInterface } from '@serialport/bindings-interface' with { 'resolution-mode': 'require' };
import type { MediaTypeConfig, RobotConfig, TapestryConfig } from '../src/config/index.ts';
import { isTapestryError, TapestryError } from '../src/errors/index.ts';
import type { Logger } from '../src/logging/index.ts';
import type { Clock } from '../src/time/clock.ts';
import { CartridgeStore } from './cartridge-store.ts';
import type { CartridgeOptions } from './cartridge.ts';
import { SimDrive } from './drive.ts';
import { createMockPair, createPtyPair, type PtyPair } from './pty.ts';
import { serveRobot, type RobotServer } from './robot-server.ts';
import { SimRobot } from './robot.ts';

/** How a media changer reaches a simulated robot: a device path, plus the mock binding when there is no pty. */
export interface RobotEndpoint {
  readonly path: string;
  readonly binding?: BindingInterface;
}

export interface SimulatedRobot {
  readonly config: RobotConfig;
  readonly robot: SimRobot;
  readonly transport: 'pty' | 'mock';
  readonly endpoint: RobotEndpoint;
  /** What a new blank cartridge the operator puts into this robot's mail slot is made of. */
  readonly blank: { readonly mediaType: string; readonly capacityBytes: number };
}

/** What a robot's state file holds: where every cartridge is. */
interface RobotStateFile {
  formatVersion: 1;
  slots: (string | null)[];
  mailslots: (string | null)[];
  drives: { element: number; label: string | null; source: number | null }[];
}

export class SimulatedLibrary {
  constructor(
    readonly store: CartridgeStore,
    readonly robots: ReadonlyMap<string, SimulatedRobot>,
    /** Every drive bay's drive, by name (configured names; unconfigured bays are `<robot>-D<n>`). */
    readonly drives: ReadonlyMap<string, SimDrive>,
    private readonly closers: (() => Promise<void>)[],
  ) {}

  endpoint(robot: string): RobotEndpoint {
    const r = this.robots.get(robot);
    if (!r) throw new TapestryError('NOT_FOUND', `no simulated robot "${robot}"`);
    return r.endpoint;
  }

  robot(name: string): SimRobot {
    const r = this.robots.get(name);
    if (!r) throw new TapestryError('NOT_FOUND', `no simulated robot "${name}" (robots: ${[...this.robots.keys()].join(', ')})`, { context: { robot: name } });
    return r.robot;
  }

  blankMedia(robot: string): SimulatedRobot['blank'] {
    const r = this.robots.get(robot);
    if (!r) throw new TapestryError('NOT_FOUND', `no simulated robot "${robot}"`, { context: { robot } });
    return r.blank;
  }

  drive(name: string): SimDrive {
    const d = this.drives.get(name);
    if (!d) throw new TapestryError('NOT_FOUND', `no simulated drive "${name}" (drives: ${[...this.drives.keys()].join(', ')})`, { context: { drive: name } });
    return d;
  }

  async close(): Promise<void> {
    for (const close of [...this.closers].reverse()) await close();
  }
}

function stateFile(tapesDir: string, robot: string): string {
  return path.join(tapesDir, `robot-${robot}.json`);
}

/** Written to a temporary file and renamed, so a crash leaves the old or the new state, never half of one. */
function saveState(file: string, robot: SimRobot): void {
  const c = robot.contents();
  const sources = robot.driveSources();
  const state: RobotStateFile = {
    formatVersion: 1,
    slots: c.slots,
    mailslots: c.mailslots,
    drives: c.drives.map((label, i) => ({ element: i + 1, label, source: sources.get(i + 1) ?? null })),
  };
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 1));
  renameSync(`${file}.tmp`, file);
}

function loadState(file: string): RobotStateFile | null {
  if (!existsSync(file)) return null;
  const state = JSON.parse(readFileSync(file, 'utf8')) as RobotStateFile;
  if (state.formatVersion !== 1) throw new TapestryError('CONFIG_INVALID', `${file}: unknown robot state format ${String(state.formatVersion)}`);
  return state;
}

/**
 * Build the simulated hardware of a config: cartridges (created on first
 * start), a SimDrive per drive bay, a SimRobot per `device: sim` robot serving
 * the serial protocol on a socat pty pair (or a mock pair without socat).
 * Robot contents persist in `<tapes_dir>/robot-<name>.json`.
 */
export async function startSimulatedLibrary(config: TapestryConfig, deps: { clock: Clock; log: Logger; cartridges?: CartridgeOptions; serial?: 'pty' | 'mock' }): Promise<SimulatedLibrary> {
  const sim = config.simulator;
  if (!sim) throw new TapestryError('CONFIG_INVALID', 'a robot uses device "sim" but the config has no simulator section');
  mkdirSync(sim.tapesDir, { recursive: true });
  // The soak turns the per-filemark fsync off (tools/soak): 45,000 of them would be most of its wall time.
  const store = new CartridgeStore(sim.tapesDir, deps.cartridges);
  const closers: (() => Promise<void>)[] = [() => store.close()];
  const robots = new Map<string, SimulatedRobot>();
  const drives = new Map<string, SimDrive>();
  const library = new SimulatedLibrary(store, robots, drives, closers);

  try {
    for (const robotConfig of config.robots.values()) {
      if (robotConfig.device !== 'sim') continue;
      const file = stateFile(sim.tapesDir, robotConfig.name);
      const state = loadState(file);
      const declared = sim.cartridges.filter((c) => c.robot === robotConfig.name);
      // Cartridges of the config are created once; later starts find them on disk.
      for (const c of declared) {
        if (!(await store.exists(c.label))) {
          await store.create({ label: c.label, mediaType: c.mediaType, capacityBytes: config.mediaTypes.get(c.mediaType)!.capacityBytes });
        }
      }

      const bays: SimDrive[] = [];
      for (let element = 1; element <= robotConfig.drives; element++) {
        const configured = config.drives.find((d) => d.robot === robotConfig.name && d.element === element);
        const mediaType = mediaTypeFor(config, robotConfig.name, configured?.mediaType);
        const drive = new SimDrive({ name: configured?.name ?? `${robotConfig.name}-D${element}`, element, mediaType, clock: deps.clock, store });
        const saved = state?.drives.find((d) => d.element === element)?.label;
        if (saved) drive.insert(saved); // back in the drive, unthreaded, as after a power cycle
        bays.push(drive);
        drives.set(drive.name, drive);
      }

      const slotContents = new Map<number, string>();
      const mailslotContents = new Map<number, string>();
      if (state) {
        state.slots.forEach((l, i) => l && slotContents.set(i + 1, l));
        state.mailslots.forEach((l, i) => l && mailslotContents.set(i + 1, l));
      } else {
        for (const c of declared) slotContents.set(c.slot, c.label);
      }
      const robotLog = deps.log.child({ robot: robotConfig.name });
      const robot: SimRobot = new SimRobot({
        name: robotConfig.name,
        slots: robotConfig.slots,
        mailslots: robotConfig.mailslots,
        moveMs: robotConfig.moveMs,
        clock: deps.clock,
        drives: bays,
        slotContents,
        mailslotContents,
        driveSources: new Map((state?.drives ?? []).flatMap((d) => (d.label && d.source ? [[d.element, d.source] as const] : []))),
        onChange: () => saveState(file, robot),
        log: robotLog,
      });
      saveState(file, robot);

      // The soak asks for the in-process pair: its virtual clock must see every byte in flight (tools/soak/soak-clock.ts).
      const { pair, transport } = deps.serial === 'mock' ? { pair: createMockPair(robotConfig.name), transport: 'mock' as const } : await openPair(path.join(config.varDir, 'run', robotConfig.name), robotLog);
      closers.push(() => pair.close());
      const binding = 'binding' in pair ? (pair.binding as BindingInterface) : undefined;
      const simPort = binding
        ? new SerialPortStream({ binding, path: pair.simPath, baudRate: robotConfig.baudRate })
        : new SerialPort({ path: pair.simPath, baudRate: robotConfig.baudRate });
      await new Promise<void>((resolve, reject) => (simPort.isOpen ? resolve() : simPort.once('open', () => resolve()).once('error', reject)));
      const server: RobotServer = serveRobot(robot, simPort, robotLog);
      closers.push(async () => {
        await server.close();
        await new Promise<void>((resolve) => (simPort.isOpen ? simPort.close(() => resolve()) : resolve()));
      });
      robots.set(robotConfig.name, {
        config: robotConfig,
        robot,
        transport,
        endpoint: binding ? { path: pair.clientPath, binding } : { path: pair.clientPath },
        blank: (() => {
          const media = mediaTypeFor(config, robotConfig.name, undefined);
          return { mediaType: media.name, capacityBytes: media.capacityBytes };
        })(),
      });
      deps.log.info({ event: 'sim.robot.ready', robot: robotConfig.name, transport, device: pair.clientPath, cartridges: slotContents.size });
    }
    return library;
  } catch (err) {
    await library.close().catch(() => undefined);
    throw err;
  }
}

function mediaTypeFor(config: TapestryConfig, robot: string, name: string | undefined): MediaTypeConfig {
  const chosen = name ?? [...config.libraries.values()].find((l) => l.robot === robot)?.mediaType ?? [...config.mediaTypes.keys()][0];
  const media = chosen === undefined ? undefined : config.mediaTypes.get(chosen);
  if (!media) throw new TapestryError('CONFIG_INVALID', `robot ${robot}: no media type for its drives`);
  return media;
}

/** A socat pty pair; without socat, an in-process mock pair (said so in the log). */
async function openPair(dir: string, log: Logger): Promise<{ pair: PtyPair & { binding?: unknown }; transport: 'pty' | 'mock' }> {
  try {
    return { pair: await createPtyPair({ dir }), transport: 'pty' };
  } catch (err) {
    if (!isTapestryError(err, 'UNAVAILABLE')) throw err;
    log.warn({ event: 'sim.robot.mock_serial', reason: err.message }, 'socat is missing: the robot is served on an in-process mock serial port (install socat for a real pty)');
    return { pair: createMockPair(path.basename(dir)), transport: 'mock' };
  }
}
