/**
 * The drive timing model (DESIGN §6): pure functions of the media type, in
 * milliseconds. Deliberately no fixed per-operation overhead, so tests can
 * assert exact virtual times and `rate: unlimited` measures software alone.
 *
 * Locate and rewind are linear in distance: a locate across half the tape takes
 * `locateAvgMs`, across the whole tape twice that. LTO's serpentine layout
 * (where a "far" block may sit on a wrap right next to the head) is a later
 * refinement.
 */
import type { MediaTypeConfig } from '../src/config/types.ts';

export type TimingModel = Pick<
  MediaTypeConfig,
  'capacityBytes' | 'rateBytesPerSec' | 'loadMs' | 'unloadMs' | 'locateAvgMs' | 'rewindAvgMs'
>;

/** Thread the tape and reach beginning-of-tape. */
export function loadTime(m: TimingModel): number {
  return m.loadMs;
}

/** Rewind from tape position `fromBytes` to beginning-of-tape. */
export function rewindTime(m: TimingModel, fromBytes: number): number {
  return (fromBytes / m.capacityBytes) * 2 * m.rewindAvgMs;
}

/** Rewind from `fromBytes`, then unthread and eject. */
export function unloadTime(m: TimingModel, fromBytes: number): number {
  return rewindTime(m, fromBytes) + m.unloadMs;
}

/** Move the head from tape position `fromBytes` to `toBytes` (either direction). */
export function locateTime(m: TimingModel, fromBytes: number, toBytes: number): number {
  return (Math.abs(toBytes - fromBytes) / m.capacityBytes) * 2 * m.locateAvgMs;
}

/** Stream `bytes` at the native rate; 0 when the rate is unlimited. */
export function transferTime(m: TimingModel, bytes: number): number {
  // bytes*1000 first: one rounding, so 4 MB at 400 MB/s is exactly 10 ms.
  return m.rateBytesPerSec === null ? 0 : (bytes * 1000) / m.rateBytesPerSec;
}
