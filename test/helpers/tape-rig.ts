import type { MediaTypeConfig } from '../../src/config/types.ts';
import { VirtualClock } from '../../src/time/clock.ts';
import type { CartridgeStore } from '../../hardware-sim/cartridge-store.ts';
import { SimDrive } from '../../hardware-sim/drive.ts';

/** A small, unlimited-rate media type for data-path tests (positioning times are virtual anyway). */
export const TEST_MEDIA: MediaTypeConfig = {
  name: 'TEST',
  capacityBytes: 8 * 1024 * 1024,
  rateBytesPerSec: null,
  loadMs: 16_000,
  unloadMs: 56_000,
  locateAvgMs: 65_000,
  rewindAvgMs: 62_000,
  blockSize: 4096,
};

/**
 * Create cartridge `label` in `store` and return a drive with it loaded, on a
 * VirtualClock that jumps ahead by itself.
 */
export async function loadedDrive(store: CartridgeStore, label: string, mediaType: MediaTypeConfig = TEST_MEDIA): Promise<SimDrive> {
  await store.create({ label, mediaType: mediaType.name, capacityBytes: mediaType.capacityBytes });
  const drive = new SimDrive({ name: `drive-${label}`, element: 1, mediaType, clock: new VirtualClock({ autoAdvance: true }), store });
  drive.insert(label);
  await drive.load();
  return drive;
}
