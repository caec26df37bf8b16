import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { MediaTypeConfig } from '../../src/config/types.ts';
import { LTO9 } from '../helpers/fixtures.ts';
import { isTapestryError, type ErrorCode } from '../../src/errors/index.ts';
import { VirtualClock, type Clock } from '../../src/time/clock.ts';
import { CartridgeStore } from '../../hardware-sim/cartridge-store.ts';
import { SimDrive } from '../../hardware-sim/drive.ts';
import { DriveFaults } from '../../hardware-sim/drive-faults.ts';
import { locateTime, transferTime } from '../../hardware-sim/drive-timing.ts';

const MB = 1_000_000;

/** Open file descriptors of this process (Linux); the last test checks none leaked. */
const openFds = (): number => readdirSync('/proc/self/fd').length;
const fdsAtStart = openFds();
/** LTO-9 timings on a 10 MB tape, so a few MB of blocks reach far down the tape. */
const SMALL: MediaTypeConfig = { ...LTO9, capacityBytes: 10 * MB };

/** Wraps a VirtualClock and records every sleep, so tests can assert exact durations. */
class RecordingClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(readonly inner: VirtualClock) {}
  now(): number {
    return this.inner.now();
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return this.inner.sleep(ms, signal);
  }
  /** Sleeps recorded since the last call. */
  take(): number[] {
    return this.sleeps.splice(0);
  }
}

interface Rig {
  readonly drive: SimDrive;
  readonly store: CartridgeStore;
  readonly clock: RecordingClock;
  readonly virtual: VirtualClock;
  readonly faults: DriveFaults;
}

async function withDrive(
  options: { mediaType?: MediaTypeConfig; autoAdvance?: boolean; label?: string | null },
  fn: (rig: Rig) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tapestry-drive-'));
  const mediaType = options.mediaType ?? LTO9;
  const virtual = new VirtualClock({ start: 0, autoAdvance: options.autoAdvance ?? true });
  const clock = new RecordingClock(virtual);
  const store = new CartridgeStore(dir);
  const faults = new DriveFaults();
  const drive = new SimDrive({ name: 'D1', element: 1, mediaType, clock, store, faults });
  const label = options.label === undefined ? 'VOL001' : options.label;
  if (label !== null) {
    await store.create({ label, mediaType: mediaType.name, capacityBytes: mediaType.capacityBytes });
    drive.insert(label);
  }
  try {
    await fn({ drive, store, clock, virtual, faults });
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function code(expected: ErrorCode): (err: unknown) => boolean {
  return (err) => isTapestryError(err, expected);
}

/** Let pending I/O settle until something waits on the virtual clock. */
async function untilWaiting(clock: VirtualClock): Promise<void> {
  for (let i = 0; i < 1000 && clock.pending === 0; i++) await new Promise((r) => setImmediate(r));
  assert.ok(clock.pending > 0, 'expected an operation waiting on the clock');
}

/** file 0: 1 MB; file 1: 4 x 1 MB; file 2: 1 MB. Files 1 and 2 start at 1 MB and 5 MB. */
async function writeLayout(drive: SimDrive): Promise<Buffer[]> {
  const blocks = Array.from({ length: 6 }, () => randomBytes(MB));
  await drive.writeBlock(blocks[0]!);
  await drive.writeFilemarks();
  for (const b of blocks.slice(1, 5)) await drive.writeBlock(b);
  await drive.writeFilemarks();
  await drive.writeBlock(blocks[5]!);
  return blocks;
}

test('a load takes exactly loadMs of virtual time', async () => {
  await withDrive({ autoAdvance: false }, async ({ drive, virtual }) => {
    assert.equal(drive.status().state, 'unthreaded');
    const loading = drive.load();
    await untilWaiting(virtual);
    assert.equal(drive.status().state, 'loading');
    await virtual.advance(15_999);
    assert.equal(drive.status().state, 'loading');
    await virtual.advance(1);
    await loading;
    assert.equal(virtual.now(), 16_000);
    assert.deepEqual(drive.status(), {
      name: 'D1',
      state: 'ready',
      label: 'VOL001',
      position: { fileNo: 0, record: 0, bytes: 0 },
      writeProtected: false,
    });
  });
});

test('locate time grows with distance, exactly as the formula says', async () => {
  await withDrive({ mediaType: SMALL }, async ({ drive, clock }) => {
    await drive.load();
    await writeLayout(drive);
    await drive.rewind();
    clock.take();

    assert.deepEqual(await drive.locateFile(1), { fileNo: 1, record: 2, bytes: MB });
    assert.deepEqual(await drive.locateFile(2), { fileNo: 2, record: 7, bytes: 5 * MB });
    const [near, far] = clock.take();
    assert.equal(near, locateTime(SMALL, 0, MB));
    assert.equal(near, 13_000);
    assert.equal(far, 52_000, '4 MB of a 10 MB tape');
    assert.ok(far! > near!);

    await drive.locateFile(0);
    await drive.locateFile(2);
    assert.deepEqual(clock.take(), [65_000, 65_000], 'half the tape = locateAvgMs, both ways');

    const before = clock.now();
    assert.deepEqual(await drive.spaceToEndOfData(), { fileNo: 2, record: 8, bytes: 6 * MB });
    assert.equal(clock.now() - before, 13_000);
    await assert.rejects(drive.locateFile(3), code('BLANK_CHECK'));
    assert.equal(drive.status().position?.record, 8, 'a failed locate does not move the head');
  });
});

test('rewind and unload take time from the current position', async () => {
  await withDrive({ mediaType: SMALL }, async ({ drive, clock }) => {
    await drive.load();
    await writeLayout(drive);
    await drive.locateFile(2); // 5 MB: mid-tape
    clock.take();
    await drive.rewind();
    assert.deepEqual(clock.take(), [62_000]);
    await drive.rewind();
    assert.deepEqual(clock.take(), [], 'rewinding at BOT costs nothing');
    await drive.locateFile(2);
    clock.take();
    await drive.unload();
    assert.deepEqual(clock.take(), [62_000 + 56_000]);
    assert.deepEqual(drive.status(), { name: 'D1', state: 'unthreaded', label: 'VOL001', position: null, writeProtected: false });
  });
});

test('rate-limited transfers take size/rate; filemarks take no time', async () => {
  await withDrive({}, async ({ drive, clock }) => {
    await drive.load();
    clock.take();
    const block = randomBytes(4 * MB);
    await drive.writeBlock(block);
    await drive.writeBlock(randomBytes(LTO9.blockSize));
    await drive.writeFilemarks(2);
    assert.deepEqual(clock.take(), [10, transferTime(LTO9, LTO9.blockSize)]);
    await drive.rewind();
    clock.take();
    const start = clock.now();
    assert.deepEqual(await drive.readRecord(), { kind: 'data', data: block });
    assert.equal(clock.now() - start, 10);
  });
});

test('an unlimited rate reads and writes in zero virtual time', async () => {
  await withDrive({ mediaType: { ...LTO9, rateBytesPerSec: null } }, async ({ drive, clock }) => {
    await drive.load();
    const start = clock.now();
    clock.take();
    const blocks = await writeLayout(drive);
    await drive.locateFile(1);
    const locate = clock.take();
    for (const b of blocks.slice(1, 5)) assert.deepEqual(await drive.readRecord(), { kind: 'data', data: b });
    assert.deepEqual(await drive.readRecord(), { kind: 'filemark' });
    assert.deepEqual(clock.take(), [], 'no transfer sleeps');
    assert.equal(locate.length, 1);
    // Virtual time is a float sum (16000 + a tiny locate), so compare to within a nanosecond.
    assert.ok(Math.abs(clock.now() - start - locate[0]!) < 1e-6, 'only the locate took time');
  });
});

test('reads follow tape semantics: filemarks, end-of-data, overwrite truncates', async () => {
  await withDrive({ mediaType: SMALL }, async ({ drive }) => {
    await drive.load();
    const blocks = await writeLayout(drive);
    await assert.rejects(drive.readRecord(), code('BLANK_CHECK'));
    await drive.locateFile(0);
    assert.deepEqual(await drive.readRecord(), { kind: 'data', data: blocks[0] });
    assert.deepEqual(await drive.readRecord(), { kind: 'filemark' });
    assert.deepEqual(drive.status().position, { fileNo: 1, record: 2, bytes: MB });
    // Overwrite the first block of file 1: files 1.. are gone.
    const fresh = randomBytes(1000);
    await drive.writeBlock(fresh);
    await assert.rejects(drive.readRecord(), code('BLANK_CHECK'));
    await assert.rejects(drive.locateFile(2), code('BLANK_CHECK'));
    assert.deepEqual(await drive.spaceToEndOfData(), { fileNo: 1, record: 3, bytes: MB + 1000 });
  });
});

test('failNextRead and failNextWrite are one-shot and leave the head in place', async () => {
  await withDrive({}, async ({ drive, faults, store }) => {
    await drive.load();
    faults.failNextWrite();
    assert.deepEqual(faults.describe(), [{ kind: 'write', code: 'MEDIA_ERROR' }]);
    await assert.rejects(drive.writeBlock(randomBytes(100)), (err) => isTapestryError(err, 'MEDIA_ERROR') && err.context['injected'] === true);
    assert.deepEqual(faults.describe(), []);
    assert.equal((await store.open('VOL001')).recordCount, 0, 'nothing written');
    const block = randomBytes(100);
    await drive.writeBlock(block);
    await drive.writeFilemarks();

    await drive.rewind();
    faults.failNextRead();
    faults.failNextRead('DRIVE_ERROR');
    await assert.rejects(drive.readRecord(), code('MEDIA_ERROR'));
    await assert.rejects(drive.readRecord(), code('DRIVE_ERROR'));
    assert.deepEqual(await drive.readRecord(), { kind: 'data', data: block });

    faults.failNextWrite('WRITE_PROTECTED');
    await assert.rejects(drive.writeFilemarks(), code('WRITE_PROTECTED'), 'a filemark is a write too');
    faults.failNextLoad();
    faults.clear('load');
    assert.deepEqual(faults.describe(), []);
  });
});

test('failNextLoad fails after loadMs and leaves the cartridge for the robot', async () => {
  await withDrive({}, async ({ drive, faults, clock }) => {
    faults.failNextLoad();
    await assert.rejects(drive.load(), code('DRIVE_ERROR'));
    assert.equal(clock.now(), 16_000);
    assert.equal(drive.status().state, 'unthreaded');
    await drive.load();
    assert.equal(drive.status().state, 'ready');
  });
});

test('cartridge faults seen through the drive: corruption, write protection, early end-of-tape', async () => {
  await withDrive({ mediaType: SMALL }, async ({ drive, store }) => {
    await drive.load();
    await writeLayout(drive);
    await store.corruptRecord('VOL001', 3);
    await drive.locateFile(1);
    await drive.readRecord();
    await assert.rejects(drive.readRecord(), code('MEDIA_ERROR'));

    await drive.spaceToEndOfData();
    await store.setEarlyEndOfTape('VOL001', 6.5 * MB);
    await assert.rejects(drive.writeBlock(randomBytes(MB)), code('END_OF_TAPE'));
    await drive.writeBlock(randomBytes(MB / 2));
    await assert.rejects(drive.writeBlock(Buffer.alloc(1)), code('END_OF_TAPE'));

    await store.setWriteProtected('VOL001', true);
    assert.equal(drive.status().writeProtected, true);
    await assert.rejects(drive.writeFilemarks(), code('WRITE_PROTECTED'));
  });
});

test('load refuses an empty drive and a cartridge of another media type', async () => {
  await withDrive({ label: null }, async ({ drive, store }) => {
    await assert.rejects(drive.load(), code('DRIVE_NOT_READY'));
    await assert.rejects(drive.readRecord(), code('DRIVE_NOT_READY'));
    await store.create({ label: 'LTO8X1', mediaType: 'LTO-8', capacityBytes: MB });
    drive.insert('LTO8X1');
    await assert.rejects(drive.load(), code('MEDIA_ERROR'));
    assert.equal(drive.take(), 'LTO8X1');
  });
});

test('robot side: insert and take follow the drive state', async () => {
  await withDrive({ autoAdvance: false }, async ({ drive, virtual }) => {
    assert.equal(drive.element, 1);
    assert.equal(drive.label, 'VOL001');
    assert.throws(() => drive.insert('VOL002'), code('ELEMENT_FULL'));

    const loading = drive.load();
    assert.throws(() => drive.take(), code('ROBOT_FORCE_DEMOUNT'), 'take while the load opens the cartridge');
    await untilWaiting(virtual);
    assert.throws(() => drive.take(), code('ROBOT_FORCE_DEMOUNT'), 'take while loading');
    await virtual.runNext();
    await loading;
    assert.throws(() => drive.take(), code('ROBOT_FORCE_DEMOUNT'), 'take while ready');

    const unloading = drive.unload();
    await untilWaiting(virtual);
    assert.equal(drive.status().state, 'unloading');
    assert.throws(() => drive.take(), code('ROBOT_FORCE_DEMOUNT'), 'take while unloading');
    await virtual.runNext();
    await unloading;
    assert.equal(drive.take(), 'VOL001');
    assert.equal(drive.label, null);
    assert.equal(drive.status().state, 'empty');
    assert.throws(() => drive.take(), code('ELEMENT_EMPTY'));

    drive.setDown(true);
    assert.equal(drive.status().state, 'down');
    assert.throws(() => drive.insert('VOL001'), code('DRIVE_DOWN'));
    drive.setDown(false);
    drive.insert('VOL001');
    assert.equal(drive.status().state, 'unthreaded');
  });
});

test('a down drive refuses commands and fails the one in flight', async () => {
  await withDrive({ autoAdvance: false }, async ({ drive, virtual }) => {
    const loading = assert.rejects(drive.load(), code('DRIVE_DOWN'));
    await untilWaiting(virtual);
    drive.setDown(true);
    await virtual.runNext();
    await loading;
    await assert.rejects(drive.load(), code('DRIVE_DOWN'));
    assert.deepEqual({ state: drive.status().state, label: drive.label }, { state: 'down', label: 'VOL001' });
    drive.setDown(false);
    assert.equal(drive.status().state, 'unthreaded');
  });
});

test('one command at a time: a concurrent call gets DRIVE_ERROR "busy"', async () => {
  await withDrive({ autoAdvance: false }, async ({ drive, virtual }) => {
    const loading = drive.load();
    await assert.rejects(drive.rewind(), (err) => isTapestryError(err, 'DRIVE_ERROR') && /busy/.test(err.message));
    await untilWaiting(virtual);
    await virtual.runNext();
    await loading;
    await drive.rewind();
  });
});

test('an aborted locate rejects and leaves the head where it was', async () => {
  // Unlimited rate: the writes take no time, so only load and locate wait on the manual clock.
  await withDrive({ mediaType: { ...SMALL, rateBytesPerSec: null }, autoAdvance: false }, async ({ drive, virtual }) => {
    const load = drive.load();
    await untilWaiting(virtual);
    await virtual.runNext();
    await load;
    await drive.writeBlock(randomBytes(MB));
    await drive.writeFilemarks();
    await drive.writeBlock(randomBytes(MB));
    const ac = new AbortController();
    const locating = drive.locateFile(1, ac.signal);
    await untilWaiting(virtual);
    ac.abort(new Error('cancelled'));
    await assert.rejects(locating, /cancelled/);
    assert.equal(virtual.pending, 0, 'the timer was withdrawn');
    assert.equal(drive.status().position?.record, 3);
  });
});

test('no file handles leaked', { skip: process.platform !== 'linux' && 'needs /proc' }, () => {
  // Fewer is fine (the runner may close a handle it had at start); more is a leak.
  assert.ok(openFds() <= fdsAtStart, `fds: ${fdsAtStart} at start, ${openFds()} now`);
});
