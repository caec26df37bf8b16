/**
 * End to end over a real pseudo-terminal pair made by socat: the robot server
 * on one end through the real serialport binding, SerialMediaChanger on the
 * other. Real time (SystemClock) with millisecond moves and retry delays.
 * Tests in this file share one pty pair and run in order.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { TapestryError, isTapestryError, type ErrorCode } from '../../src/errors/index.ts';
import { SystemClock } from '../../src/time/clock.ts';
import { SerialMediaChanger } from '../../src/hardware/serial-media-changer.ts';
import { robotErrorByCode } from '../../src/hardware/robot-protocol.ts';
import type { RobotEvent } from '../../src/hardware/types.ts';
import { SimRobot } from '../../hardware-sim/robot.ts';
import { FakeBay } from '../helpers/fixtures.ts';
import { serveRobot, type RobotServer } from '../../hardware-sim/robot-server.ts';
import { createPtyPair, type PtyPair } from '../../hardware-sim/pty.ts';


const clock = new SystemClock();
const RETRIES = 3;
let dir: string;
let pair: PtyPair;
let simPort: SerialPort;
let server: RobotServer;
let robot: SimRobot;
let bays: FakeBay[];
let changer: SerialMediaChanger;

function openPort(path: string): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const port: SerialPort = new SerialPort({ path, baudRate: 9600 }, (err) => (err ? reject(err) : resolve(port)));
  });
}

function closePort(port: SerialPort): Promise<void> {
  return port.isOpen ? new Promise((resolve) => port.close(() => resolve())) : Promise.resolve();
}

function openChanger(commandTimeoutMs = 2000): Promise<SerialMediaChanger> {
  return SerialMediaChanger.open({ path: pair.clientPath, baudRate: 9600, clock, commandTimeoutMs, retries: RETRIES, retryDelayMs: 2 });
}

function rejectsWith(code: ErrorCode, context: Record<string, unknown> = {}): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isTapestryError(err), `not a TapestryError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const [k, v] of Object.entries(context)) assert.deepEqual(err.context[k], v, `context.${k} of ${err.message}`);
    return true;
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tapestry-robot-'));
  pair = await createPtyPair({ dir });
  bays = [new FakeBay(1), new FakeBay(2), new FakeBay(3), new FakeBay(4)];
  robot = new SimRobot({
    name: 'pty-sim',
    slots: 40,
    mailslots: 4,
    moveMs: 2,
    clock,
    drives: bays,
    slotContents: new Map([[1, 'TS0001L9'], [2, 'TS0002L9'], [3, 'TS0003L9']]),
  });
  simPort = await openPort(pair.simPath);
  simPort.on('error', () => undefined);
  server = serveRobot(robot, simPort);
});

after(async () => {
  await changer?.close();
  await server?.close();
  await closePort(simPort);
  await pair?.close();
  await rm(dir, { recursive: true, force: true });
  // No socat child, timer or retry sleep may outlive the tests (the process must exit on its own).
  const leaked = process.getActiveResourcesInfo().filter((r) => ['ProcessWrap', 'Timeout', 'Immediate'].includes(r));
  assert.deepEqual(leaked, []);
});

test('the server answers garbage on the line with ERR 1 SYNTAX and keeps serving', async () => {
  const raw = await openPort(pair.clientPath);
  const lines: string[] = [];
  let buf = '';
  let wake = (): void => undefined;
  raw.on('data', (c: Buffer) => {
    const parts = (buf + c.toString('latin1')).split('\r\n');
    buf = parts.pop()!;
    lines.push(...parts);
    wake();
  });
  try {
    raw.write(Buffer.concat([Buffer.from('junk\r\n9 LOAD S1 D9 D9\r\n10 '), Buffer.from([0x00, 0xfe]), Buffer.from(`\r\n11 ${'Q'.repeat(300)}\r\n12 STATUS\r\n`)]));
    while (lines.length < 5) await new Promise<void>((r) => (wake = r));
    assert.deepEqual(lines, [
      '* ERR 1 SYNTAX expected "<tag> <VERB> [args]" with a 1-8 digit tag',
      '9 ERR 1 SYNTAX LOAD takes 2 argument(s), got 3',
      '10 ERR 1 SYNTAX non-printable byte 0x00 at column 4',
      '11 ERR 1 SYNTAX line longer than 256 bytes',
      '12 OK READY SLOTS=40 DRIVES=4 MAILSLOTS=4',
    ]);
  } finally {
    await closePort(raw);
  }
});

test('inventory and status', async () => {
  changer = await openChanger();
  const inv = await changer.inventory();
  assert.equal(inv.slots.length, 40);
  assert.equal(inv.drives.length, 4);
  assert.equal(inv.mailslots.length, 4);
  assert.deepEqual(inv.slots.slice(0, 4).map((s) => s.label), ['TS0001L9', 'TS0002L9', 'TS0003L9', null]);
  assert.deepEqual(await changer.status(), { state: 'ready', slots: 40, drives: 4, mailslots: 4 });
});

test('load, unload and transfer move cartridges between slots and drives', async () => {
  await changer.load(1, 1);
  await changer.load(2, 2);
  assert.deepEqual([bays[0]!.label, bays[1]!.label], ['TS0001L9', 'TS0002L9']);
  await changer.unload(1, 10);
  await changer.transfer({ kind: 'drive', index: 2 }, { kind: 'drive', index: 3 });
  await changer.transfer({ kind: 'drive', index: 3 }, { kind: 'slot', index: 2 });
  const inv = await changer.inventory();
  assert.equal(inv.slots[9]!.label, 'TS0001L9');
  assert.equal(inv.slots[1]!.label, 'TS0002L9');
  assert.deepEqual(inv.drives.map((d) => d.label), [null, null, null, null]);
});

test('eject to a mail slot, operator takes and puts back, import; events reach onEvent', async () => {
  const events: RobotEvent[] = [];
  let wake = (): void => undefined;
  const off = changer.onEvent((e) => {
    events.push(e);
    wake();
  });
  const nextEvents = async (n: number): Promise<RobotEvent[]> => {
    while (events.length < n) await new Promise<void>((r) => (wake = r));
    return events.splice(0, n);
  };
  try {
    assert.equal(await changer.eject(3), 1);
    assert.equal(await changer.eject(10, 3), 3);
    assert.deepEqual(robot.operatorTakeMailslots(), ['TS0003L9', 'TS0001L9']);
    assert.deepEqual(await nextEvents(2), [
      { kind: 'MAILSLOT', args: ['OPENED'] },
      { kind: 'MAILSLOT', args: ['CLOSED', 'I1=EMPTY', 'I2=EMPTY', 'I3=EMPTY', 'I4=EMPTY'] },
    ]);
    robot.operatorPutMailslots(['TS0001L9', 'TS0077L9']);
    assert.deepEqual(await nextEvents(2), [
      { kind: 'MAILSLOT', args: ['OPENED'] },
      { kind: 'MAILSLOT', args: ['CLOSED', 'I1=TS0001L9', 'I2=TS0077L9', 'I3=EMPTY', 'I4=EMPTY'] },
    ]);
    await changer.import(1, 1);
    await changer.import(2, 20);
    const inv = await changer.inventory();
    assert.equal(inv.slots[0]!.label, 'TS0001L9');
    assert.equal(inv.slots[19]!.label, 'TS0077L9');
    assert.ok(inv.mailslots.every((m) => m.label === null));
  } finally {
    off();
  }
});

test('every robot error code maps to its TapestryError; retryable codes are retried', async () => {
  const table: [number, ErrorCode][] = [[2, 'ROBOT_ERROR'], [3, 'ROBOT_ERROR'], [4, 'ROBOT_FORCE_DEMOUNT'], [5, 'DRIVE_DOWN'], [6, 'ROBOT_OPERATOR'], [8, 'ROBOT_OPERATOR'], [9, 'ROBOT_ERROR'], [16, 'ROBOT_BUSY'], [1, 'MALFORMED'], [10, 'ELEMENT_EMPTY'], [11, 'ELEMENT_FULL'], [12, 'NO_SUCH_ELEMENT']];
  for (const [code, expected] of table) {
    const retryable = robotErrorByCode(code)!.retryable;
    robot.failNext(code, RETRIES + 1);
    await assert.rejects(changer.load(1, 4), rejectsWith(expected, { robotCode: code, command: 'LOAD S1 D4', attempts: retryable ? RETRIES + 1 : 1 }), `code ${code}`);
    assert.equal(robot.describeFaults().failNext.length, retryable ? 0 : RETRIES, `attempts used for code ${code}`);
    robot.clearFaults();
  }
  assert.equal(bays[3]!.label, null);
});

test('retries: failNext(3, 2) succeeds on the third attempt, failNext(3, 5) fails', async () => {
  robot.failNext(3, 2);
  await changer.load(1, 4);
  assert.equal(bays[3]!.label, 'TS0001L9');
  assert.deepEqual(robot.describeFaults().failNext, []);
  robot.failNext(3, 5);
  await assert.rejects(changer.unload(4, 1), rejectsWith('ROBOT_ERROR', { robotCode: 3, attempts: 4 }));
  assert.deepEqual(robot.describeFaults().failNext, [3]);
  robot.clearFaults();
  robot.failNext(16, 1);
  robot.failNext(2, 1);
  robot.failNext(9, 1);
  await changer.unload(4, 1);
  assert.equal(bays[3]!.label, null);
});

test('real conditions: empty, full, no element, force demount, drive down, jam, busy', async () => {
  await assert.rejects(changer.load(30, 1), rejectsWith('ELEMENT_EMPTY', { robotCode: 10 }));
  await assert.rejects(changer.load(1, 5), rejectsWith('NO_SUCH_ELEMENT', { robotCode: 12 }));
  await assert.rejects(changer.import(9, 1), rejectsWith('NO_SUCH_ELEMENT', { robotCode: 12 }));
  await assert.rejects(changer.unload(1, 1), rejectsWith('ELEMENT_EMPTY', { robotCode: 10 }));
  await changer.load(1, 1);
  await assert.rejects(changer.load(2, 1), rejectsWith('ELEMENT_FULL', { robotCode: 11 }));
  bays[0]!.threaded = true;
  await assert.rejects(changer.unload(1, 1), rejectsWith('ROBOT_FORCE_DEMOUNT', { robotCode: 4, attempts: 1 }));
  bays[0]!.threaded = false;
  await changer.unload(1, 1);
  bays[1]!.down = true;
  await assert.rejects(changer.load(1, 2), rejectsWith('DRIVE_DOWN', { robotCode: 5 }));
  bays[1]!.down = false;
  robot.jam();
  assert.equal((await changer.status()).state, 'jammed');
  await assert.rejects(changer.load(1, 2), rejectsWith('ROBOT_OPERATOR', { robotCode: 8, attempts: 1 }));
  robot.clearJam();
  robot.setBusy(60_000);
  assert.equal((await changer.status()).state, 'busy');
  await assert.rejects(changer.load(1, 2), rejectsWith('ROBOT_BUSY', { robotCode: 16, attempts: RETRIES + 1 }));
  robot.setBusy(0);
  assert.deepEqual(robot.describeFaults(), { jammed: false, busyUntil: null, failNext: [], dropReplies: 0, gripper: null });
  assert.equal(robot.contents().slots[0], 'TS0001L9');
});

test('a dropped reply times out and the retry succeeds; too many drops give ROBOT_TIMEOUT', async () => {
  await changer.close();
  changer = await openChanger(150);
  robot.dropNextReply();
  const t0 = Date.now();
  await changer.load(1, 1);
  assert.ok(Date.now() - t0 >= 150, 'waited for the timeout');
  robot.dropNextReply(RETRIES + 1);
  await assert.rejects(changer.unload(1, 1), rejectsWith('ROBOT_TIMEOUT', { attempts: RETRIES + 1 }));
  await changer.unload(1, 1);
  assert.equal(robot.contents().slots[0], 'TS0001L9');
});

test('killing socat makes the changer ROBOT_UNREACHABLE, and socat is gone after close', async () => {
  robot.dropNextReply(1);
  // Attach the checks now: both promises reject while we wait for socat to exit.
  const pending = assert.rejects(changer.status(), rejectsWith('ROBOT_UNREACHABLE'));
  const queued = assert.rejects(changer.inventory(), rejectsWith('ROBOT_UNREACHABLE'));
  await new Promise((r) => setTimeout(r, 20)); // the request is on the line
  const pid = pair.pid!;
  await pair.close();
  await pending;
  await queued;
  await assert.rejects(changer.status(), rejectsWith('ROBOT_UNREACHABLE'));
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  await assert.rejects(lstat(pair.clientPath), { code: 'ENOENT' });
  await assert.rejects(lstat(pair.simPath), { code: 'ENOENT' });
});

test('a missing socat is a clear UNAVAILABLE error', async () => {
  await assert.rejects(createPtyPair({ dir, socat: join(dir, 'no-socat-here') }), (err: unknown) => {
    assert.ok(isTapestryError(err, 'UNAVAILABLE'));
    assert.match(err.message, /apt-get install -y socat/);
    assert.equal(err.context.missing, 'socat');
    return true;
  });
});
