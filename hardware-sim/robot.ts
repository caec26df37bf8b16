/**
 * The simulated robot: one accessor moving cartridges between storage slots,
 * drives and mail slots, with injectable faults (DESIGN §6 "Faults"). It knows
 * nothing about serial lines: `execute` takes a parsed command and returns the
 * reply body; robot-server.ts puts it on the wire.
 */
import { TapestryError, isTapestryError } from '../src/errors/index.ts';
import type { Clock } from '../src/time/clock.ts';
import type { Logger } from '../src/logging/logger.ts';
import type { ElementAddress, ElementKind, RobotEvent, RobotStatus } from '../src/hardware/types.ts';
import {
  formatElement,
  formatInventoryLine,
  formatMailslotContents,
  formatStatus,
  isMotion,
  isValidLabel,
  robotCodeForError,
  robotErrorByCode,
  type RobotCommand,
} from '../src/hardware/robot-protocol.ts';

/**
 * The robot-facing side of a simulated drive (implemented by hardware-sim's
 * SimDrive). `insert` throws ELEMENT_FULL or DRIVE_DOWN; `take` throws
 * ROBOT_FORCE_DEMOUNT while the tape is threaded and ELEMENT_EMPTY when empty.
 */
export interface DriveBay {
  /** The drive's element number in this robot, 1-based (`D1`). */
  readonly element: number;
  /** Label of the cartridge in the drive, threaded or not. */
  readonly label: string | null;
  insert(label: string): void;
  take(): string;
}

export interface SimRobotOptions {
  name: string;
  slots: number;
  mailslots: number;
  /** Time of one pick-and-place, on `clock`. */
  moveMs: number;
  clock: Clock;
  drives: readonly DriveBay[];
  /** Initial storage slot contents: slot number → label. */
  slotContents?: ReadonlyMap<number, string>;
  /** Initial mail slot contents: mail slot number → label. */
  mailslotContents?: ReadonlyMap<number, string>;
  /** For drives holding a cartridge at start: drive element → the slot it came from. */
  driveSources?: ReadonlyMap<number, number>;
  /** Called after every change of contents (a move, the operator at the mail slot), to persist them. */
  onChange?: () => void;
  log?: Logger;
}

/** What a command produced: data lines and the OK text, or an error code and text. `null` = no reply (dropped). */
export type RobotResult =
  | { readonly ok: true; readonly data: readonly string[]; readonly text: string }
  | { readonly ok: false; readonly code: number; readonly text: string };

export interface RobotFaults {
  readonly jammed: boolean;
  /** Virtual/real time (clock.now()) until which the robot answers BUSY; null when not busy. */
  readonly busyUntil: number | null;
  /** Codes the next motion commands will fail with, in order. */
  readonly failNext: readonly number[];
  /** Commands still to be swallowed without a reply. */
  readonly dropReplies: number;
  /** A cartridge stuck in the gripper after a failed move could not be put back. */
  readonly gripper: string | null;
}

/** A command failure inside the robot, turned into an ERR reply by `execute`. */
class Refusal extends Error {
  constructor(readonly code: number, text: string) {
    super(text);
  }
}

const key = (a: ElementAddress): string => formatElement(a);

export class SimRobot {
  readonly name: string;
  private readonly clock: Clock;
  private readonly moveMs: number;
  private readonly log: Logger | undefined;
  private readonly slots: (string | null)[];
  private readonly mail: (string | null)[];
  private readonly drives = new Map<number, DriveBay>();
  /** Drive element → storage slot its cartridge came from (SCSI "source element"). */
  private readonly driveSource = new Map<number, number>();
  private readonly onChange: (() => void) | undefined;
  private readonly listeners = new Set<(event: RobotEvent) => void>();

  // Faults (see describeFaults).
  private jammed = false;
  private busyUntil: number | null = null;
  private failQueue: number[] = [];
  private dropReplies = 0;
  private gripper: string | null = null;

  /** One accessor: commands run one at a time, in arrival order. */
  private accessor: Promise<unknown> = Promise.resolve();
  /** Elements the current move picked from / will place into; the operator cannot touch these. */
  private readonly reserved = new Set<string>();

  constructor(options: SimRobotOptions) {
    this.name = options.name;
    this.clock = options.clock;
    this.moveMs = options.moveMs;
    this.log = options.log;
    this.slots = new Array<string | null>(options.slots).fill(null);
    this.mail = new Array<string | null>(options.mailslots).fill(null);
    const n = options.drives.length;
    for (const bay of options.drives) {
      if (!Number.isInteger(bay.element) || bay.element < 1 || bay.element > n || this.drives.has(bay.element)) {
        throw new TapestryError('CONFIG_INVALID', `robot ${this.name}: drive elements must be 1..${n}, each once; got ${bay.element}`);
      }
      this.drives.set(bay.element, bay);
    }
    const seen = new Set<string>(options.drives.flatMap((d) => (d.label === null ? [] : [d.label])));
    const fill = (into: (string | null)[], from: ReadonlyMap<number, string> | undefined, what: string): void => {
      for (const [index, label] of from ?? []) {
        if (index < 1 || index > into.length) throw new TapestryError('CONFIG_INVALID', `robot ${this.name}: no ${what} ${index}`);
        if (!isValidLabel(label)) throw new TapestryError('CONFIG_INVALID', `robot ${this.name}: bad label "${label}"`);
        if (seen.has(label)) throw new TapestryError('CONFIG_INVALID', `robot ${this.name}: label ${label} appears twice`);
        seen.add(label);
        into[index - 1] = label;
      }
    };
    fill(this.slots, options.slotContents, 'slot');
    fill(this.mail, options.mailslotContents, 'mail slot');
    for (const [drive, slot] of options.driveSources ?? []) {
      if (this.drives.get(drive)?.label != null && slot >= 1 && slot <= this.slots.length) this.driveSource.set(drive, slot);
    }
    this.onChange = options.onChange;
  }

  // --- commands ---------------------------------------------------------------------

  /** Run one command after the previous one finished. Never throws. */
  execute(cmd: RobotCommand): Promise<RobotResult | null> {
    const run = this.accessor.then(() => this.run(cmd));
    this.accessor = run.catch(() => undefined);
    return run;
  }

  private async run(cmd: RobotCommand): Promise<RobotResult | null> {
    if (this.dropReplies > 0) {
      // The command is lost on the line: not executed, not answered.
      this.dropReplies--;
      this.log?.debug({ event: 'robot.fault.drop', robot: this.name, verb: cmd.verb });
      return null;
    }
    try {
      const busy = this.busyUntil !== null && this.clock.now() < this.busyUntil;
      if (cmd.verb === 'STATUS') return { ok: true, data: [], text: formatStatus(this.status(busy)) };
      if (busy) throw new Refusal(16, 'robot busy');
      if (cmd.verb === 'INVENTORY') return { ok: true, data: this.inventoryLines(), text: '' };
      if (isMotion(cmd)) {
        if (this.jammed) throw new Refusal(8, 'accessor jammed');
        const injected = this.failQueue.shift();
        if (injected !== undefined) throw new Refusal(injected, `injected fault: ${robotErrorByCode(injected)?.meaning ?? 'unknown code'}`);
      }
      return await this.motion(cmd);
    } catch (err) {
      if (err instanceof Refusal) return { ok: false, code: err.code, text: err.message };
      if (isTapestryError(err)) return { ok: false, code: robotCodeForError(err.code), text: err.message };
      this.log?.error({ event: 'robot.internal', robot: this.name, err });
      return { ok: false, code: 6, text: `internal error: ${(err as Error).message}` };
    }
  }

  private async motion(cmd: RobotCommand): Promise<RobotResult> {
    switch (cmd.verb) {
      case 'LOAD':
        await this.move({ kind: 'slot', index: cmd.slot }, { kind: 'drive', index: cmd.drive });
        return { ok: true, data: [], text: '' };
      case 'UNLOAD':
        await this.move({ kind: 'drive', index: cmd.drive }, { kind: 'slot', index: cmd.slot });
        return { ok: true, data: [], text: '' };
      case 'TRANSFER':
        await this.move(cmd.from, cmd.to);
        return { ok: true, data: [], text: '' };
      case 'IMPORT':
        await this.move({ kind: 'mailslot', index: cmd.mailslot }, { kind: 'slot', index: cmd.slot });
        return { ok: true, data: [], text: '' };
      case 'EJECT': {
        let target = cmd.mailslot;
        if (target === undefined) {
          // NO_ELEMENT and EMPTY take precedence over "no free mail slot".
          if (this.peek({ kind: 'slot', index: cmd.slot }) === null) throw new Refusal(10, `S${cmd.slot} is empty`);
          const free = this.mail.findIndex((l, i) => l === null && !this.reserved.has(`I${i + 1}`));
          if (free === -1) throw new Refusal(11, 'no free mail slot');
          target = free + 1;
        }
        await this.move({ kind: 'slot', index: cmd.slot }, { kind: 'mailslot', index: target });
        return { ok: true, data: [], text: `I${target}` };
      }
      default:
        throw new Refusal(1, `not a motion command: ${cmd.verb}`);
    }
  }

  /**
   * One pick-and-place. The source is emptied at pick time (the cartridge is in
   * the gripper) and both elements are reserved, so an operator at the mail
   * slot cannot race the accessor during the move.
   */
  private async move(from: ElementAddress, to: ElementAddress): Promise<void> {
    if (this.peek(from) === null) throw new Refusal(10, `${key(from)} is empty`);
    if (this.peek(to) !== null) throw new Refusal(11, `${key(to)} is full`);
    this.reserved.add(key(from)).add(key(to));
    try {
      const label = this.pick(from); // a drive may refuse: FORCE_DEMOUNT before any motion
      await this.clock.sleep(this.moveMs);
      try {
        this.place(to, label);
      } catch (err) {
        // e.g. the drive went down while we travelled: bring the cartridge back.
        try {
          this.place(from, label);
        } catch {
          this.gripper = label;
          this.jammed = true;
          this.log?.error({ event: 'robot.jammed', robot: this.name, label, reason: 'cannot return cartridge' });
        }
        throw err;
      }
      if (to.kind === 'drive') {
        if (from.kind === 'slot') this.driveSource.set(to.index, from.index);
        else this.driveSource.delete(to.index);
      }
      if (from.kind === 'drive') this.driveSource.delete(from.index);
      this.log?.debug({ event: 'robot.move', robot: this.name, from: key(from), to: key(to), label });
      this.changed();
    } finally {
      this.reserved.delete(key(from));
      this.reserved.delete(key(to));
    }
  }

  private peek(addr: ElementAddress): string | null {
    const s = this.store(addr.kind);
    if (s !== null) {
      if (addr.index < 1 || addr.index > s.length) throw new Refusal(12, `no element ${key(addr)}`);
      return s[addr.index - 1]!;
    }
    return this.bay(addr.index).label;
  }

  private pick(addr: ElementAddress): string {
    const s = this.store(addr.kind);
    if (s === null) return this.bay(addr.index).take();
    const label = s[addr.index - 1]!;
    s[addr.index - 1] = null;
    return label;
  }

  private place(addr: ElementAddress, label: string): void {
    const s = this.store(addr.kind);
    if (s === null) return this.bay(addr.index).insert(label);
    if (s[addr.index - 1] !== null) throw new Refusal(11, `${key(addr)} is full`);
    s[addr.index - 1] = label;
  }

  private store(kind: ElementKind): (string | null)[] | null {
    return kind === 'slot' ? this.slots : kind === 'mailslot' ? this.mail : null;
  }

  private bay(index: number): DriveBay {
    const bay = this.drives.get(index);
    if (bay === undefined) throw new Refusal(12, `no element D${index}`);
    return bay;
  }

  private status(busy: boolean): RobotStatus {
    return {
      state: this.jammed ? 'jammed' : busy ? 'busy' : 'ready',
      slots: this.slots.length,
      drives: this.drives.size,
      mailslots: this.mail.length,
    };
  }

  private inventoryLines(): string[] {
    const lines: string[] = [];
    this.slots.forEach((label, i) => lines.push(formatInventoryLine({ address: { kind: 'slot', index: i + 1 }, label })));
    for (let d = 1; d <= this.drives.size; d++) {
      const label = this.drives.get(d)!.label;
      const source = label === null ? undefined : this.driveSource.get(d);
      lines.push(formatInventoryLine({ address: { kind: 'drive', index: d }, label, source: source === undefined ? null : { kind: 'slot', index: source } }));
    }
    this.mail.forEach((label, i) => lines.push(formatInventoryLine({ address: { kind: 'mailslot', index: i + 1 }, label })));
    return lines;
  }

  /** Drive element → slot its cartridge came from, for drives that hold one. */
  driveSources(): Map<number, number> {
    return new Map([...this.driveSource].filter(([d]) => this.drives.get(d)?.label != null));
  }

  private changed(): void {
    try {
      this.onChange?.();
    } catch (err) {
      this.log?.error({ event: 'robot.persist_failed', robot: this.name, err });
    }
  }

  /** Plain snapshot for tests and the HTTP API (no waiting for the accessor). */
  contents(): { slots: (string | null)[]; drives: (string | null)[]; mailslots: (string | null)[] } {
    const drives: (string | null)[] = [];
    for (let d = 1; d <= this.drives.size; d++) drives.push(this.drives.get(d)!.label);
    return { slots: [...this.slots], drives, mailslots: [...this.mail] };
  }

  // --- operator at the mail slot ----------------------------------------------------------

  /** Subscribe to unsolicited events (`* MAILSLOT …`); returns an unsubscribe function. */
  onEvent(listener: (event: RobotEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The operator opens the mail slot door, takes every cartridge, closes it. Returns the labels taken. */
  operatorTakeMailslots(): string[] {
    this.emit({ kind: 'MAILSLOT', args: ['OPENED'] });
    const taken: string[] = [];
    this.mail.forEach((label, i) => {
      if (label !== null && !this.reserved.has(`I${i + 1}`)) {
        taken.push(label);
        this.mail[i] = null;
      }
    });
    this.emitClosed();
    this.changed();
    this.log?.info({ event: 'robot.mailslot.take', robot: this.name, labels: taken });
    return taken;
  }

  /** The operator puts cartridges into free mail slots, in order. Nothing changes when they do not all fit. */
  operatorPutMailslots(labels: readonly string[]): void {
    const bad = labels.find((l) => !isValidLabel(l));
    if (bad !== undefined) throw new TapestryError('USERERROR', `bad cartridge label "${bad}"`, { context: { robot: this.name } });
    const known = new Set(this.allLabels());
    const dup = labels.find((l, i) => known.has(l) || labels.indexOf(l) !== i);
    if (dup !== undefined) throw new TapestryError('EXISTS', `cartridge ${dup} is already in robot ${this.name}`, { context: { robot: this.name, label: dup } });
    const free = this.mail.flatMap((l, i) => (l === null && !this.reserved.has(`I${i + 1}`) ? [i] : []));
    if (free.length < labels.length) {
      throw new TapestryError('ELEMENT_FULL', `robot ${this.name}: ${labels.length} cartridge(s) but only ${free.length} free mail slot(s)`, {
        context: { robot: this.name, free: free.length, wanted: labels.length },
      });
    }
    this.emit({ kind: 'MAILSLOT', args: ['OPENED'] });
    labels.forEach((label, i) => (this.mail[free[i]!] = label));
    this.emitClosed();
    this.changed();
    this.log?.info({ event: 'robot.mailslot.put', robot: this.name, labels });
  }

  private allLabels(): string[] {
    const c = this.contents();
    return [...c.slots, ...c.drives, ...c.mailslots, this.gripper].filter((l): l is string => l !== null);
  }

  private emitClosed(): void {
    this.emit({ kind: 'MAILSLOT', args: ['CLOSED', ...formatMailslotContents(this.mail)] });
  }

  private emit(event: RobotEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.log?.warn({ event: 'robot.listener.error', robot: this.name, err });
      }
    }
  }

  // --- fault injection ----------------------------------------------------------------------

  /** The next `count` motion commands reply `ERR <code>`. */
  failNext(code: number, count = 1): void {
    if (robotErrorByCode(code) === undefined) throw new TapestryError('USERERROR', `unknown robot error code ${code}`);
    if (!Number.isInteger(count) || count < 0) throw new TapestryError('USERERROR', `bad count ${count}`);
    for (let i = 0; i < count; i++) this.failQueue.push(code);
  }

  /** Every motion command replies `ERR 8 JAMMED` and STATUS says JAMMED until clearJam(). */
  jam(): void {
    this.jammed = true;
  }

  /** The operator frees the accessor. Returns a cartridge that was stuck in the gripper, if any (the operator takes it out). */
  clearJam(): string | null {
    this.jammed = false;
    const stuck = this.gripper;
    this.gripper = null;
    return stuck;
  }

  /** Reply `ERR 16 BUSY` (STATUS: BUSY) for the next `ms` of clock time; 0 clears. */
  setBusy(ms: number): void {
    this.busyUntil = ms > 0 ? this.clock.now() + ms : null;
  }

  /** Swallow the next command: not executed, never answered (tests client timeouts). */
  dropNextReply(count = 1): void {
    this.dropReplies += count;
  }

  /** Drop every pending fault (not the jam: an operator clears that). */
  clearFaults(): void {
    this.failQueue = [];
    this.busyUntil = null;
    this.dropReplies = 0;
  }

  describeFaults(): RobotFaults {
    const busy = this.busyUntil !== null && this.clock.now() < this.busyUntil;
    return { jammed: this.jammed, busyUntil: busy ? this.busyUntil : null, failNext: [...this.failQueue], dropReplies: this.dropReplies, gripper: this.gripper };
  }
}
