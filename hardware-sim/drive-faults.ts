/**
 * Faults a simulated drive can be told to produce (DESIGN §6): tests and the
 * operator API call these instead of monkey-patching. Each `failNext*` arms one
 * fault that fires on the next matching operation and is then gone; arming the
 * same kind twice fails the next two.
 *
 * Cartridge-level faults (corrupt a block, end the tape early, write-protect)
 * live on Cartridge / CartridgeStore because they belong to the medium and
 * follow it from drive to drive.
 */
import { TapestryError, type ErrorCode } from '../src/errors/index.ts';

/** `write` covers blocks and filemarks alike: any command that writes to tape. */
export type DriveFaultKind = 'read' | 'write' | 'load' | 'corrupt-write';

export interface PendingDriveFault {
  readonly kind: DriveFaultKind;
  readonly code: ErrorCode;
}

export class DriveFaults {
  private pending: PendingDriveFault[] = [];

  failNextRead(code: ErrorCode = 'MEDIA_ERROR'): void {
    this.pending.push({ kind: 'read', code });
  }

  failNextWrite(code: ErrorCode = 'MEDIA_ERROR'): void {
    this.pending.push({ kind: 'write', code });
  }

  /** The load takes its full time, then fails and leaves the cartridge unthreaded. */
  failNextLoad(code: ErrorCode = 'DRIVE_ERROR'): void {
    this.pending.push({ kind: 'load', code });
  }

  /**
   * The next block written goes to tape with one byte flipped and no error
   * (the cartridge keeps a crc of the wrong bytes): only reading the file back
   * and comparing its adler32 finds it (docs/faults-drive-media.md).
   */
  corruptNextWrite(): void {
    this.pending.push({ kind: 'corrupt-write', code: 'CRC_MISMATCH' });
  }

  /** Disarm pending faults (all, or of one kind). */
  clear(kind?: DriveFaultKind): void {
    this.pending = kind === undefined ? [] : this.pending.filter((f) => f.kind !== kind);
  }

  /** Pending faults, oldest first, as plain data for an HTTP route. */
  describe(): PendingDriveFault[] {
    return this.pending.map((f) => ({ ...f }));
  }

  /**
   * Consume the oldest pending fault of `kind` and return the error it produces,
   * or null when none is armed. Called by SimDrive.
   */
  take(kind: DriveFaultKind, drive: string): TapestryError | null {
    const i = this.pending.findIndex((f) => f.kind === kind);
    if (i < 0) return null;
    const [fault] = this.pending.splice(i, 1);
    return new TapestryError(fault!.code, `injected ${kind} fault on drive ${drive}`, {
      context: { drive, injected: true },
    });
  }
}
