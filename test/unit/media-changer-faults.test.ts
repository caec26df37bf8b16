/**
 * MediaChangerService + SerialMediaChanger against the simulated robot over
 * serialport's mock binding (as media-changer-mock.test.ts), on a virtual
 * clock: force-demount, the alarms each robot error class raises, the reset
 * after a jam, and the bound on the command queue.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SerialPortStream } from '@serialport/stream';
import { MediaChangerService, type RobotAlarms } from '../../media-changer/service.ts';
import { driveDownKey, robotAttentionKey, robotLocationKey } from '../../media-changer/robot-error-policy.ts';
import { SimRobot } from '../../hardware-sim/robot.ts';
import { serveRobot } from '../../hardware-sim/robot-server.ts';
import { createMockPair } from '../../hardware-sim/pty.ts';
import type { DriveConfig, LibraryConfig, RobotConfig } from '../../src/config/index.ts';
import { isTapestryError, type ErrorCode } from '../../src/errors/index.ts';
import { SerialMediaChanger } from '../../src/hardware/serial-media-changer.ts';
import type { DriveStatus, TapeDrive } from '../../src/hardware/types.ts';
import { silentLogger } from '../../src/logging/index.ts';
import { VirtualClock } from '../../src/time/clock.ts';
import { FakeBay } from '../helpers/fixtures.ts';

/** The thread/unthread side of a drive, on top of a FakeBay (`threaded` is what the robot sees). */
class FakeTape {
  constructor(readonly name: string, private readonly bay: FakeBay) {}
  status(): DriveStatus {
    return { state: this.bay.label === null ? 'empty' : this.bay.threaded ? 'ready' : 'unthreaded' } as DriveStatus;
  }
  async load(): Promise<void> {
    this.bay.threaded = true;
  }
  async unload(): Promise<void> {
    this.bay.threaded = false;
  }
}

class FakeAlarms implements RobotAlarms {
  raised: { key: string; code: string; message: string; detail: Record<string, unknown> }[] = [];
  resolved: string[] = [];
  async raise(a: { key: string; code: string; message: string; detail: Record<string, unknown> }): Promise<void> {
    this.raised.push(a);
  }
  async resolveCause(key: string): Promise<unknown> {
    this.resolved.push(key);
    return { key };
  }
}

async function rig(options: { maxQueued?: number } = {}) {
  const clock = new VirtualClock({ autoAdvance: true });
  const bays = [new FakeBay(1), new FakeBay(2)];
  const robot = new SimRobot({ name: 'sim', slots: 6, mailslots: 1, moveMs: 1000, clock, drives: bays, slotContents: new Map([[1, 'TS0001L9'], [2, 'TS0002L9']]) });
  const pair = createMockPair();
  const simPort = new SerialPortStream({ binding: pair.binding, path: pair.simPath, baudRate: 9600 });
  simPort.on('error', () => undefined);
  const server = serveRobot(robot, simPort);
  const changer = await SerialMediaChanger.open({ path: pair.clientPath, baudRate: 9600, binding: pair.binding, clock, commandTimeoutMs: 60_000, retries: 3, retryDelayMs: 1000, ...options });
  const robotConfig = { name: 'sim', device: 'sim', baudRate: 9600, slots: 6, drives: 2, mailslots: 1, moveMs: 1000, commandTimeoutMs: 60_000, retries: 3, retryDelayMs: 1000 } as RobotConfig;
  const drives: DriveConfig[] = [1, 2].map((e) => ({ name: `drive-${e}`, library: 'lib', robot: 'sim', element: e, mediaType: 'LTO9', mover: 'local' }) as DriveConfig);
  const alarms = new FakeAlarms();
  const service = new MediaChangerService({
    robot: robotConfig,
    libraries: [{ name: 'lib', robot: 'sim', mediaType: 'LTO9' } as LibraryConfig],
    drives,
    changer,
    tapeDrives: new Map(bays.map((b, i) => [`drive-${i + 1}`, new FakeTape(`drive-${i + 1}`, b) as unknown as TapeDrive])),
    log: silentLogger(),
    alarms,
  });
  return {
    robot, bays, changer, service, alarms,
    async close() {
      await changer.close();
      await server.close();
      if (simPort.isOpen) await new Promise<void>((resolve) => simPort.close(() => resolve()));
    },
  };
}

function code(c: ErrorCode): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isTapestryError(err), String(err));
    assert.equal(err.code, c, err.message);
    return true;
  };
}

test('FORCE_DEMOUNT on a load: the drive is emptied, the load retried once; a second refusal is final', async () => {
  const r = await rig();
  try {
    r.robot.failNext(4);
    await r.service.mount('TS0001L9', 'drive-1');
    assert.equal(r.bays[0]!.label, 'TS0001L9');
    assert.equal(r.bays[0]!.threaded, true);
    await r.service.dismount('TS0001L9', 'drive-1');

    r.robot.failNext(4, 2);
    await assert.rejects(r.service.mount('TS0001L9', 'drive-1'), code('ROBOT_FORCE_DEMOUNT'));
    assert.deepEqual(r.robot.contents().slots.slice(0, 2), ['TS0001L9', 'TS0002L9'], 'nothing moved');
    assert.deepEqual(r.alarms.raised, [], 'handled in place, no alarm');
  } finally {
    await r.close();
  }
});

test('a threaded cartridge the mover does not know about is dismounted home before the mount', async () => {
  const r = await rig();
  try {
    await r.service.mount('TS0002L9', 'drive-1'); // e.g. left by a mount whose reply was lost
    await r.service.mount('TS0001L9', 'drive-1');
    assert.equal(r.bays[0]!.label, 'TS0001L9');
    assert.deepEqual(r.robot.contents().slots.slice(0, 2), [null, 'TS0002L9'], 'TS0002L9 went back to its home slot');
    // Mounting what is already there finishes that mount instead of failing on a full drive.
    r.bays[0]!.threaded = false;
    assert.equal((await r.service.mount('TS0001L9', 'drive-1')).label, 'TS0001L9');
    assert.equal(r.bays[0]!.threaded, true);
  } finally {
    await r.close();
  }
});

test('FORCE_DEMOUNT on a dismount: the tape is unthreaded and the move retried once', async () => {
  const r = await rig();
  try {
    await r.service.mount('TS0001L9', 'drive-2');
    r.robot.failNext(4);
    assert.equal((await r.service.dismount('TS0001L9', 'drive-2')).toSlot, 1);
    assert.equal(r.bays[1]!.label, null);
  } finally {
    await r.close();
  }
});

test('alarms: DRIVE_DOWN names the drive, EMPTY names the volume, JAMMED holds the robot until a reset that finds it ready', async () => {
  const r = await rig();
  try {
    r.bays[0]!.down = true;
    await assert.rejects(r.service.mount('TS0001L9', 'drive-1'), code('DRIVE_DOWN'));
    assert.equal(r.robot.contents().slots[0], 'TS0001L9', 'the cartridge went back to its slot');
    r.robot.failNext(10);
    await assert.rejects(r.service.mount('TS0002L9', 'drive-2'), code('ELEMENT_EMPTY'));
    r.robot.jam();
    await assert.rejects(r.service.mount('TS0002L9', 'drive-2'), code('ROBOT_OPERATOR'));
    assert.deepEqual(r.alarms.raised.map((a) => [a.key, a.code]), [
      [driveDownKey('drive-1'), 'DRIVE_DOWN'],
      [robotLocationKey('TS0002L9'), 'ELEMENT_EMPTY'],
      [robotAttentionKey('sim'), 'ROBOT_OPERATOR'],
    ]);
    assert.match(r.alarms.raised[2]!.message, /accessor jammed/);

    await assert.rejects(r.service.reset('op'), (err) => code('ROBOT_OPERATOR')(err) && /still reports JAMMED/.test((err as Error).message));
    assert.deepEqual(r.alarms.resolved, []);
    r.robot.clearJam();
    assert.deepEqual(await r.service.reset('op'), { robot: 'sim', state: 'ready', resolved: true });
    assert.deepEqual(r.alarms.resolved, [robotAttentionKey('sim')]);
    await r.service.mount('TS0002L9', 'drive-2');
  } finally {
    await r.close();
  }
});

test('a hanging robot: the command queue is bounded, extra commands are refused at once as ROBOT_BUSY', async () => {
  const r = await rig({ maxQueued: 2 });
  try {
    r.robot.dropNextReply(100); // the robot swallows everything
    const queued = [r.changer.load(1, 1), r.changer.load(2, 2), r.changer.status()];
    for (const p of queued) p.catch(() => undefined);
    await assert.rejects(r.changer.inventory(), code('ROBOT_BUSY'));
    // Each of the others ends on its own timeouts (bounded), or when the line goes away.
    await r.changer.close();
    for (const p of queued) await assert.rejects(p, (err) => isTapestryError(err) && (err.code === 'ROBOT_TIMEOUT' || err.code === 'ROBOT_UNREACHABLE'));
  } finally {
    await r.close();
  }
});
