import type { MediaTypeConfig } from '../../src/config/types.ts';
import { TapestryError } from '../../src/errors/index.ts';
import type { DriveBay } from '../../hardware-sim/robot.ts';

/** LTO-9 figures of reference/peers.md §6 (IBM TS2290). */
export const LTO9: MediaTypeConfig = {
  name: 'LTO-9',
  capacityBytes: 18e12,
  rateBytesPerSec: 400e6,
  loadMs: 16_000,
  unloadMs: 56_000,
  locateAvgMs: 65_000,
  rewindAvgMs: 62_000,
  blockSize: 262_144,
};

/** The robot-facing side of a drive, as small as the DriveBay contract allows. */
export class FakeBay implements DriveBay {
  label: string | null = null;
  threaded = false;
  down = false;
  constructor(readonly element: number) {}
  insert(label: string): void {
    if (this.down) throw new TapestryError('DRIVE_DOWN', `drive ${this.element} is down`);
    if (this.label !== null) throw new TapestryError('ELEMENT_FULL', `drive ${this.element} holds ${this.label}`);
    this.label = label;
  }
  take(): string {
    if (this.label === null) throw new TapestryError('ELEMENT_EMPTY', `drive ${this.element} is empty`);
    if (this.threaded) throw new TapestryError('ROBOT_FORCE_DEMOUNT', `drive ${this.element}: tape threaded`);
    const l = this.label;
    this.label = null;
    return l;
  }
}
