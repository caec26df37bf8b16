/**
 * A simulated tape drive (DESIGN §6): the TapeDrive a mover uses, plus the
 * robot-side methods (`insert`, `take`) the simulated robot uses to place and
 * remove cartridges. Every timed operation sleeps on the injected Clock for the
 * time drive-timing.ts gives, so it runs in real, scaled or virtual time.
 *
 * State changes are committed only after the sleep: an aborted or failed
 * operation leaves the head where it was (a loading cartridge goes back to
 * unthreaded, so the robot can still take it).
 */
import type { MediaTypeConfig } from '../src/config/types.ts';
import { TapestryError } from '../src/errors/index.ts';
import type { DriveState, DriveStatus, SyntheticRecord, TapeDrive, TapePosition, TapeRecord } from '../src/hardware/types.ts';
import type { Clock } from '../src/time/clock.ts';
import { FILEMARK_TAPE_BYTES, type Cartridge } from './cartridge.ts';
import type { CartridgeStore } from './cartridge-store.ts';
import { DriveFaults } from './drive-faults.ts';
import { loadTime, locateTime, rewindTime, transferTime, unloadTime } from './drive-timing.ts';

export interface SimDriveOptions {
  readonly name: string;
  /** The drive's element number in its robot (D1 = 1). */
  readonly element: number;
  readonly mediaType: MediaTypeConfig;
  readonly clock: Clock;
  readonly store: CartridgeStore;
  readonly faults?: DriveFaults;
}

/** Where the cartridge is; `down` is kept apart because a down drive may still hold one. */
type Phase = Exclude<DriveState, 'down'>;

export class SimDrive implements TapeDrive {
  readonly name: string;
  readonly mediaType: MediaTypeConfig;
  readonly faults: DriveFaults;
  private readonly elementNo: number;
  private readonly clock: Clock;
  private readonly store: CartridgeStore;

  private phase: Phase = 'empty';
  private down = false;
  private busy = false;
  /** Label of the cartridge sitting in the drive (threaded or not). */
  private cartLabel: string | null = null;
  /** The open cartridge, from the end of a load until the start of the robot's take. */
  private cart: Cartridge | null = null;
  /** Head position as a record number (recordCount = end-of-data). */
  private head = 0;

  constructor(options: SimDriveOptions) {
    this.name = options.name;
    this.elementNo = options.element;
    this.mediaType = options.mediaType;
    this.clock = options.clock;
    this.store = options.store;
    this.faults = options.faults ?? new DriveFaults();
  }

  status(): DriveStatus {
    const threaded = this.phase === 'ready' || this.phase === 'unloading';
    return {
      name: this.name,
      state: this.down ? 'down' : this.phase,
      label: this.cartLabel,
      position: threaded && this.cart !== null ? this.cart.positionOf(this.head) : null,
      writeProtected: this.cart?.writeProtected ?? false,
    };
  }

  load(signal?: AbortSignal): Promise<void> {
    return this.operation(async () => {
      if (this.phase === 'ready') return;
      if (this.phase !== 'unthreaded' || this.cartLabel === null) throw this.notReady('no cartridge in drive');
      // 'loading' before the first await, so the robot cannot take the cartridge meanwhile.
      this.phase = 'loading';
      let cart: Cartridge;
      try {
        cart = await this.store.open(this.cartLabel);
        if (cart.mediaType !== this.mediaType.name) {
          throw new TapestryError('MEDIA_ERROR', `cartridge ${cart.label} is ${cart.mediaType}, drive ${this.name} takes ${this.mediaType.name}`, {
            context: this.context({ mediaType: cart.mediaType }),
          });
        }
        await this.wait(loadTime(this.mediaType), signal);
        const fault = this.faults.take('load', this.name);
        if (fault !== null) throw fault;
      } catch (err) {
        this.phase = 'unthreaded';
        throw err;
      }
      this.cart = cart;
      this.head = 0;
      this.phase = 'ready';
    });
  }

  unload(signal?: AbortSignal): Promise<void> {
    return this.operation(async () => {
      if (this.phase === 'unthreaded') return; // already ejected
      const cart = this.ready();
      this.phase = 'unloading';
      try {
        await this.wait(unloadTime(this.mediaType, cart.positionOf(this.head).bytes), signal);
      } catch (err) {
        this.phase = 'ready';
        throw err;
      }
      this.cart = null;
      this.head = 0;
      this.phase = 'unthreaded';
    });
  }

  rewind(signal?: AbortSignal): Promise<void> {
    return this.operation(async () => {
      const cart = this.ready();
      await this.wait(rewindTime(this.mediaType, cart.positionOf(this.head).bytes), signal);
      this.head = 0;
    });
  }

  locateFile(fileNo: number, signal?: AbortSignal): Promise<TapePosition> {
    return this.operation(async () => this.locateTo(this.ready().fileStart(fileNo), signal));
  }

  spaceToEndOfData(signal?: AbortSignal): Promise<TapePosition> {
    return this.operation(async () => this.locateTo(this.ready().recordCount, signal));
  }

  readRecord(signal?: AbortSignal, into?: Buffer): Promise<TapeRecord> {
    return this.operation(async () => {
      const cart = this.ready();
      if (this.head >= cart.recordCount) {
        throw new TapestryError('BLANK_CHECK', `end of data on ${cart.label}`, { context: this.context({ record: this.head }) });
      }
      const fault = this.faults.take('read', this.name);
      if (fault !== null) throw fault;
      const record = await cart.readRecord(this.head, into);
      if (record.kind === 'data') await this.wait(transferTime(this.mediaType, record.data.length), signal);
      this.head++;
      return record;
    });
  }

  writeBlock(data: Buffer, signal?: AbortSignal): Promise<void> {
    return this.operation(async () => {
      const cart = this.ready();
      // Refuse before spending transfer time; the cartridge checks again when writing.
      cart.checkWrite(this.head, data.length);
      const fault = this.faults.take('write', this.name);
      if (fault !== null) throw fault;
      await this.wait(transferTime(this.mediaType, data.length), signal);
      // Fault: silent corruption (a copy: the caller's buffer is reused). Byte 4096 is file data past the cpio header.
      const corrupt = this.faults.take('corrupt-write', this.name) !== null;
      if (corrupt) {
        data = Buffer.from(data);
        const at = Math.min(data.length - 1, 4096);
        data[at] = data[at]! ^ 0xff;
      }
      await cart.writeBlock(this.head, data);
      this.head++;
    });
  }

  writeFilemarks(count = 1, signal?: AbortSignal): Promise<void> {
    return this.operation(async () => {
      const cart = this.ready();
      if (!Number.isSafeInteger(count) || count < 0) throw new TapestryError('USERERROR', `bad filemark count ${count}`);
      cart.checkWrite(this.head, count * FILEMARK_TAPE_BYTES);
      const fault = this.faults.take('write', this.name);
      if (fault !== null) throw fault;
      await this.wait(transferTime(this.mediaType, count * FILEMARK_TAPE_BYTES), signal);
      await cart.writeFilemarks(this.head, count);
      this.head += count;
    });
  }

  /** Soak: one record describing a whole archive; costs the tape space and streaming time of `tapeBytes`, and fails like writeBlock. */
  writeSynthetic(record: SyntheticRecord, signal?: AbortSignal): Promise<void> {
    return this.operation(async () => {
      const cart = this.ready();
      cart.checkWrite(this.head, record.tapeBytes);
      const fault = this.faults.take('write', this.name);
      if (fault !== null) throw fault;
      await this.wait(transferTime(this.mediaType, record.tapeBytes), signal);
      await cart.writeSynthetic(this.head, record);
      this.head++;
    });
  }

  /** Soak: read the synthetic record under the head (MALFORMED for anything else) and advance. */
  readSynthetic(signal?: AbortSignal): Promise<SyntheticRecord> {
    return this.operation(async () => {
      const cart = this.ready();
      if (this.head >= cart.recordCount) {
        throw new TapestryError('BLANK_CHECK', `end of data on ${cart.label}`, { context: this.context({ record: this.head }) });
      }
      const fault = this.faults.take('read', this.name);
      if (fault !== null) throw fault;
      const record = cart.synthetic(this.head);
      await this.wait(transferTime(this.mediaType, record.tapeBytes), signal);
      this.head++;
      return record;
    });
  }

  // --- robot side -------------------------------------------------------------

  get element(): number {
    return this.elementNo;
  }

  /** Label of the cartridge in the drive, threaded or waiting for the robot. */
  get label(): string | null {
    return this.cartLabel;
  }

  get isDown(): boolean {
    return this.down;
  }

  /** The robot places a cartridge in the drive; it stays unthreaded until load(). */
  insert(label: string): void {
    if (this.down) throw new TapestryError('DRIVE_DOWN', `drive ${this.name} is down`, { context: this.context({ label }) });
    if (this.cartLabel !== null) {
      throw new TapestryError('ELEMENT_FULL', `drive ${this.name} already holds ${this.cartLabel}`, { context: this.context({ label }) });
    }
    this.cartLabel = label;
    this.phase = 'unthreaded';
  }

  /** The robot removes the cartridge; only possible once the drive has ejected it. */
  take(): string {
    const label = this.cartLabel;
    if (label === null) throw new TapestryError('ELEMENT_EMPTY', `drive ${this.name} is empty`, { context: this.context() });
    if (this.phase !== 'unthreaded') {
      throw new TapestryError('ROBOT_FORCE_DEMOUNT', `drive ${this.name} has ${label} ${this.phase}; unload it first`, {
        context: this.context({ state: this.phase }),
      });
    }
    this.cartLabel = null;
    this.phase = 'empty';
    return label;
  }

  /** Operator or fault: a down drive refuses every command; an operation in flight fails when its wait ends. */
  setDown(down: boolean): void {
    this.down = down;
  }

  // --- internals --------------------------------------------------------------

  /** One command at a time, as on a real drive; a second concurrent one is a caller bug. */
  private async operation<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy) throw new TapestryError('DRIVE_ERROR', `drive ${this.name} busy`, { context: this.context() });
    this.busy = true;
    try {
      this.checkUp();
      return await fn();
    } finally {
      this.busy = false;
    }
  }

  private async locateTo(record: number, signal?: AbortSignal): Promise<TapePosition> {
    const cart = this.ready();
    const from = cart.positionOf(this.head).bytes;
    const to = cart.positionOf(record);
    await this.wait(locateTime(this.mediaType, from, to.bytes), signal);
    this.head = record;
    return to;
  }

  /** Sleep on the clock; zero-time steps skip the timer so unlimited-rate runs stay cheap. */
  private async wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms > 0) await this.clock.sleep(ms, signal);
    else signal?.throwIfAborted();
    this.checkUp();
  }

  private ready(): Cartridge {
    if (this.phase !== 'ready' || this.cart === null) throw this.notReady(`drive is ${this.phase}`);
    return this.cart;
  }

  private checkUp(): void {
    if (this.down) throw new TapestryError('DRIVE_DOWN', `drive ${this.name} is down`, { context: this.context() });
  }

  private notReady(why: string): TapestryError {
    return new TapestryError('DRIVE_NOT_READY', `drive ${this.name}: ${why}`, { context: this.context() });
  }

  private context(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { drive: this.name, element: this.elementNo, label: this.cartLabel, ...extra };
  }
}
