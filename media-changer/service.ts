import type { DriveConfig, LibraryConfig, RobotConfig } from '../src/config/index.ts';
import { isTapestryError, TapestryError } from '../src/errors/index.ts';
import type { DriveState, MediaChanger, RobotInventory, RobotStatus, TapeDrive } from '../src/hardware/types.ts';
import type { Logger } from '../src/logging/index.ts';
import { alarmFor, classifyRobotFailure, robotAttentionKey } from './robot-error-policy.ts';

/** A library as operators see it: its robot's elements, with drives named as in the config. */
export interface LibraryInventory {
  readonly library: string;
  readonly robot: string;
  readonly mediaType: string;
  readonly robotState: RobotStatus['state'];
  readonly slots: readonly { slot: number; label: string | null }[];
  readonly drives: readonly DriveView[];
  readonly mailslots: readonly { mailslot: number; label: string | null }[];
}

export interface DriveView {
  readonly name: string;
  readonly element: number;
  readonly label: string | null;
  /** The slot the cartridge came from, as the robot reports it; where a dismount returns it. */
  readonly homeSlot: number | null;
  /** The drive's own state when it is local to this process (simulated or attached), else null. */
  readonly state: DriveState | null;
}

export interface MediaChangerServiceDeps {
  readonly robot: RobotConfig;
  readonly libraries: readonly LibraryConfig[];
  readonly drives: readonly DriveConfig[];
  readonly changer: MediaChanger;
  /** Drives this process can thread and unthread (the simulated ones, or ones attached here). */
  readonly tapeDrives: ReadonlyMap<string, TapeDrive>;
  readonly log: Logger;
  /** Where robot alarms go (operator attention, drive down, location mismatch); none in unit tests. */
  readonly alarms?: RobotAlarms;
}

/** The part of the alarm service the media changer uses. */
export interface RobotAlarms {
  raise(alarm: { key: string; severity: 'critical' | 'error' | 'warning'; code: string; message: string; detail: Record<string, unknown> }): Promise<unknown>;
  resolveCause(key: string, by: string): Promise<unknown>;
}

/**
 * One per robot (Enstore's media_changer): mounts and dismounts by label and
 * drive name, on top of the element-level MediaChanger. Mount = robot move to
 * the drive + thread; dismount = unthread + robot move back to the home slot.
 */
export class MediaChangerService {
  private readonly busyDrives = new Set<string>();

  constructor(private readonly deps: MediaChangerServiceDeps) {}

  get robotName(): string {
    return this.deps.robot.name;
  }

  libraries(): { name: string; robot: string; mediaType: string; drives: string[] }[] {
    return this.deps.libraries.map((l) => ({
      name: l.name,
      robot: l.robot,
      mediaType: l.mediaType,
      drives: this.deps.drives.filter((d) => d.library === l.name).map((d) => d.name),
    }));
  }

  hasLibrary(name: string): boolean {
    return this.deps.libraries.some((l) => l.name === name);
  }

  private drive(name: string): DriveConfig {
    const drive = this.deps.drives.find((d) => d.name === name);
    if (!drive) {
      const known = this.deps.drives.map((d) => d.name).join(', ');
      throw new TapestryError('NOT_FOUND', `no drive "${name}" in robot ${this.deps.robot.name} (drives: ${known})`, { context: { drive: name } });
    }
    return drive;
  }

  async inventory(libraryName: string): Promise<LibraryInventory> {
    const library = this.deps.libraries.find((l) => l.name === libraryName);
    if (!library) throw new TapestryError('NOT_FOUND', `no library "${libraryName}" on robot ${this.deps.robot.name}`);
    const [status, inv] = await Promise.all([this.deps.changer.status(), this.deps.changer.inventory()]);
    return {
      library: library.name,
      robot: this.deps.robot.name,
      mediaType: library.mediaType,
      robotState: status.state,
      slots: inv.slots.map((s) => ({ slot: s.address.index, label: s.label })),
      drives: this.deps.drives
        .filter((d) => d.library === library.name)
        .map((d) => {
          const el = inv.drives.find((e) => e.address.index === d.element);
          return {
            name: d.name,
            element: d.element,
            label: el?.label ?? null,
            homeSlot: el?.source?.kind === 'slot' ? el.source.index : null,
            state: this.deps.tapeDrives.get(d.name)?.status().state ?? null,
          };
        }),
      mailslots: inv.mailslots.map((m) => ({ mailslot: m.address.index, label: m.label })),
    };
  }

  /** Guard: one mount or dismount per drive at a time. */
  private async exclusive<T>(driveName: string, fn: () => Promise<T>): Promise<T> {
    if (this.busyDrives.has(driveName)) {
      throw new TapestryError('CONFLICT', `drive ${driveName} is busy with another mount or dismount`, { context: { drive: driveName } });
    }
    this.busyDrives.add(driveName);
    try {
      return await fn();
    } finally {
      this.busyDrives.delete(driveName);
    }
  }

  async mount(label: string, driveName: string): Promise<{ label: string; drive: string; fromSlot: number }> {
    const drive = this.drive(driveName);
    return this.exclusive(driveName, () => this.alarming('mount', label, driveName, async () => {
      const started = Date.now();
      let inv = await this.deps.changer.inventory();
      const inDrive = inv.drives.find((d) => d.address.index === drive.element);
      if (inDrive?.label === label) {
        // An earlier mount moved it here and then failed (a lost reply, a failed
        // thread): finish that mount instead of failing on a full drive.
        const tape = this.deps.tapeDrives.get(driveName);
        if (tape && tape.status().state !== 'ready') await tape.load();
        this.deps.log.warn({ event: 'robot.mount_found', label, drive: driveName });
        return { label, drive: driveName, fromSlot: inDrive.source?.kind === 'slot' ? inDrive.source.index : 0 };
      }
      if (inDrive?.label) {
        // A cartridge the mover does not know about: CTA's "force demount first".
        this.deps.log.warn({ event: 'robot.foreign_cartridge', label: inDrive.label, drive: driveName, wanted: label });
        await this.forceDemount(driveName, drive.element);
        inv = await this.deps.changer.inventory();
      }
      const slot = findLabel(inv, label, 'slot');
      if (slot === null) throw notInSlots(inv, label, this.deps.robot.name);
      try {
        await this.deps.changer.load(slot, drive.element);
      } catch (err) {
        if (!isTapestryError(err) || classifyRobotFailure(err) !== 'force-demount') throw err;
        // The robot says the drive still holds a threaded tape: unload and
        // dismount it, then try the load once more (a second refusal is final).
        this.deps.log.warn({ event: 'robot.force_demount', label, drive: driveName, op: 'mount', message: err.message });
        await this.forceDemount(driveName, drive.element);
        await this.deps.changer.load(slot, drive.element);
      }
      await this.deps.tapeDrives.get(driveName)?.load();
      this.deps.log.info({ event: 'robot.mounted', label, drive: driveName, slot, ms: Date.now() - started });
      return { label, drive: driveName, fromSlot: slot };
    }));
  }

  async dismount(label: string, driveName: string): Promise<{ label: string; drive: string; toSlot: number }> {
    const drive = this.drive(driveName);
    return this.exclusive(driveName, () => this.alarming('dismount', label, driveName, async () => {
      const inv = await this.deps.changer.inventory();
      const el = inv.drives.find((d) => d.address.index === drive.element);
      if (!el?.label) throw new TapestryError('ELEMENT_EMPTY', `drive ${driveName} holds no cartridge`, { context: { drive: driveName } });
      if (el.label !== label) {
        throw new TapestryError('CONFLICT', `drive ${driveName} holds ${el.label}, not ${label}`, { context: { drive: driveName, label: el.label } });
      }
      const slot = homeOrFreeSlot(inv, el, this.deps.robot.name);
      const started = Date.now();
      const tape = this.deps.tapeDrives.get(driveName);
      const state = tape?.status().state;
      if (state === 'ready' || state === 'loading') await tape!.unload();
      try {
        await this.deps.changer.unload(drive.element, slot);
      } catch (err) {
        if (!isTapestryError(err) || classifyRobotFailure(err) !== 'force-demount') throw err;
        this.deps.log.warn({ event: 'robot.force_demount', label, drive: driveName, op: 'dismount', message: err.message });
        await this.unthread(driveName);
        await this.deps.changer.unload(drive.element, slot);
      }
      this.deps.log.info({ event: 'robot.dismounted', label, drive: driveName, slot, ms: Date.now() - started });
      return { label, drive: driveName, toSlot: slot };
    }));
  }

  /** Whatever is in the drive: unthread it and move it to its home (or a free) slot. Nothing there: nothing to do. */
  private async forceDemount(driveName: string, element: number): Promise<void> {
    const inv = await this.deps.changer.inventory();
    const el = inv.drives.find((d) => d.address.index === element);
    if (!el?.label) return;
    await this.unthread(driveName);
    const slot = homeOrFreeSlot(inv, el, this.deps.robot.name);
    await this.deps.changer.unload(element, slot);
    this.deps.log.warn({ event: 'robot.force_demounted', label: el.label, drive: driveName, slot });
  }

  /** Unload the tape in a local drive, whatever state it is in (a remote mover's drive is its own business). */
  private async unthread(driveName: string): Promise<void> {
    const tape = this.deps.tapeDrives.get(driveName);
    const state = tape?.status().state;
    if (tape && state !== 'empty' && state !== 'down') await tape.unload();
  }

  /**
   * Run a mount or dismount; when it fails, raise the alarm its class asks for
   * (robot-error-policy `alarmFor`) before the caller hears of it, so the
   * library manager already sees the hold when the mover reports the failure.
   */
  private async alarming<T>(op: 'mount' | 'dismount', label: string, driveName: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isTapestryError(err)) {
        const alarm = alarmFor(err, { robot: this.deps.robot.name, drive: driveName, volume: label, op });
        this.deps.log.warn({ event: `robot.${op}_failed`, label, drive: driveName, code: err.code, class: classifyRobotFailure(err), message: err.message });
        if (alarm) await this.deps.alarms?.raise(alarm).catch((e: unknown) => this.deps.log.error({ event: 'robot.alarm_failed', key: alarm.key, err: e }));
      }
      throw err;
    }
  }

  /**
   * The operator has cleared the robot (`tapestry robot reset`): check that it
   * answers and is not jammed, then resolve its ROBOT_OPERATOR alarm, which
   * lets its libraries mount again (media-changer/robot-hold.ts).
   */
  async reset(by: string): Promise<{ robot: string; state: string; resolved: boolean }> {
    const status = await this.deps.changer.status();
    if (status.state === 'jammed') {
      throw new TapestryError('ROBOT_OPERATOR', `robot ${this.deps.robot.name} still reports JAMMED; free the accessor first, then reset again`, { context: { robot: this.deps.robot.name } });
    }
    const resolved = await this.deps.alarms?.resolveCause(robotAttentionKey(this.deps.robot.name), by);
    this.deps.log.warn({ event: 'robot.reset', robot: this.deps.robot.name, state: status.state, by, resolved: resolved != null });
    return { robot: this.deps.robot.name, state: status.state, resolved: resolved != null };
  }

  /** Robot EXPORT: move a cartridge from its storage slot to the first free mail slot (ELEMENT_FULL when there is none). */
  async exit(label: string): Promise<{ label: string; slot: number; mailslot: number }> {
    const inv = await this.deps.changer.inventory();
    const slot = findLabel(inv, label, 'slot');
    if (slot === null) throw notInSlots(inv, label, this.deps.robot.name);
    if (!inv.mailslots.some((m) => m.label === null)) {
      throw new TapestryError('ELEMENT_FULL', `robot ${this.deps.robot.name} has no free mail slot for ${label}`, { context: { label } });
    }
    const mailslot = await this.deps.changer.eject(slot);
    this.deps.log.info({ event: 'robot.exited', label, slot, mailslot });
    return { label, slot, mailslot };
  }

  /** Robot IMPORT: move a cartridge an operator put into a mail slot to the first free storage slot. */
  async enter(label: string): Promise<{ label: string; mailslot: number; slot: number }> {
    const inv = await this.deps.changer.inventory();
    const mailslot = inv.mailslots.find((m) => m.label === label)?.address.index;
    if (mailslot === undefined) throw new TapestryError('NOT_FOUND', `${label} is not in a mail slot of robot ${this.deps.robot.name}`, { context: { label } });
    const slot = inv.slots.find((s) => s.label === null)?.address.index;
    if (slot === undefined) throw new TapestryError('ELEMENT_FULL', `robot ${this.deps.robot.name} has no free slot for ${label}`, { context: { label } });
    await this.deps.changer.import(mailslot, slot);
    this.deps.log.info({ event: 'robot.entered', label, mailslot, slot });
    return { label, mailslot, slot };
  }
}

function findLabel(inv: RobotInventory, label: string, kind: 'slot'): number | null {
  const list = kind === 'slot' ? inv.slots : [];
  return list.find((e) => e.label === label)?.address.index ?? null;
}

/** Back where it came from when that slot is still free, else the first free slot. */
function homeOrFreeSlot(inv: RobotInventory, el: RobotInventory['drives'][number], robot: string): number {
  const home = el.source?.kind === 'slot' && inv.slots.find((s) => s.address.index === el.source!.index)?.label === null ? el.source.index : null;
  const slot = home ?? inv.slots.find((s) => s.label === null)?.address.index;
  if (slot === undefined) throw new TapestryError('ELEMENT_FULL', `robot ${robot} has no free slot for ${el.label ?? 'the cartridge'}`);
  return slot;
}

function notInSlots(inv: RobotInventory, label: string, robot: string): TapestryError {
  const drive = inv.drives.find((d) => d.label === label);
  if (drive) return new TapestryError('CONFLICT', `${label} is already in drive element D${drive.address.index}`, { context: { label } });
  const io = inv.mailslots.find((d) => d.label === label);
  if (io) return new TapestryError('CONFLICT', `${label} is in mail slot I${io.address.index}; import it first`, { context: { label } });
  return new TapestryError('NO_SUCH_VOLUME', `no cartridge ${label} in robot ${robot}`, { context: { label, robot } });
}
