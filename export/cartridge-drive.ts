/**
 * A TapeDrive over one open cartridge directory, with no robot, no timing and
 * no clock: what the stand-alone tape tools and import verification need to
 * run movers/tape-io.ts (the one implementation of the on-tape format) on a
 * cartridge that no library holds. The simulated drive (hardware-sim/drive.ts)
 * cannot: it finds cartridges by label in a tapes directory, and an exported
 * copy lives in `<label>.tape/`.
 *
 * The cartridge is loaded from the start; load and unload do nothing.
 */
import { TapestryError } from '../src/errors/index.ts';
import type { DriveStatus, TapeDrive, TapePosition, TapeRecord } from '../src/hardware/types.ts';
import type { Cartridge } from '../hardware-sim/cartridge.ts';

export class CartridgeDrive implements TapeDrive {
  readonly name: string;
  /** Head position as a record number (recordCount = end-of-data). */
  private head = 0;

  constructor(private readonly cart: Cartridge, name?: string) {
    this.name = name ?? `cartridge ${cart.label}`;
  }

  status(): DriveStatus {
    return { name: this.name, state: 'ready', label: this.cart.label, position: this.cart.positionOf(this.head), writeProtected: this.cart.writeProtected };
  }

  async load(): Promise<void> {}

  async unload(): Promise<void> {}

  async rewind(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.head = 0;
  }

  async locateFile(fileNo: number, signal?: AbortSignal): Promise<TapePosition> {
    signal?.throwIfAborted();
    this.head = this.cart.fileStart(fileNo);
    return this.cart.positionOf(this.head);
  }

  async spaceToEndOfData(signal?: AbortSignal): Promise<TapePosition> {
    signal?.throwIfAborted();
    this.head = this.cart.recordCount;
    return this.cart.positionOf(this.head);
  }

  async readRecord(signal?: AbortSignal, into?: Buffer): Promise<TapeRecord> {
    signal?.throwIfAborted();
    if (this.head >= this.cart.recordCount) {
      throw new TapestryError('BLANK_CHECK', `end of data on ${this.cart.label}`, { context: { label: this.cart.label, record: this.head } });
    }
    const record = await this.cart.readRecord(this.head, into);
    this.head++;
    return record;
  }

  async writeBlock(data: Buffer, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    await this.cart.writeBlock(this.head, data);
    this.head++;
  }

  async writeFilemarks(count = 1, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (!Number.isSafeInteger(count) || count < 0) throw new TapestryError('USERERROR', `bad filemark count ${count}`);
    await this.cart.writeFilemarks(this.head, count);
    this.head += count;
  }
}
