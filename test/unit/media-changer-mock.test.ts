/**
 * SerialMediaChanger against the simulated robot over serialport's mock
 * binding. binding-mock only records writes and lets a test inject reads, so
 * hardware-sim/pty.ts's createMockPair wires two mock ports into a null-modem;
 * both ends still go through SerialPortStream, as with a real pty.
 *
 * Everything runs on one VirtualClock with autoAdvance: the mock's I/O settles
 * within one turn of the event loop, so the clock only jumps when every party
 * is waiting on time, and the elapsed virtual time is exact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SerialPortStream } from '@serialport/stream';
import { TapestryError, isTapestryError, type ErrorCode } from '../../src/errors/index.ts';
import { VirtualClock } from '../../src/time/clock.ts';
import { SerialMediaChanger, type SerialMediaChangerOptions } from '../../src/hardware/serial-media-changer.ts';
import type { RobotEvent } from '../../src/hardware/types.ts';
import { SimRobot } from '../../hardware-sim/robot.ts';
import { FakeBay } from '../helpers/fixtures.ts';
import { serveRobot } from '../../hardware-sim/robot-server.ts';
import { createMockPair, type MockPair } from '../../hardware-sim/pty.ts';


const MOVE = 3000;
const TIMEOUT = 60_000;
const DELAY = 1000;

interface Rig {
  clock: VirtualClock;
  robot: SimRobot;
  bays: FakeBay[];
  pair: MockPair;
  changer: SerialMediaChanger;
  simPort: SerialPortStream;
  /** Virtual ms since `mark()`. */
  elapsed(): number;
  mark(): void;
  close(): Promise<void>;
}

function closePort(port: SerialPortStream): Promise<void> {
  return port.isOpen ? new Promise((resolve) => port.close(() => resolve())) : Promise.resolve();
}

async function rig(opts: Partial<SerialMediaChangerOptions> = {}): Promise<Rig> {
  const clock = new VirtualClock({ autoAdvance: true });
  const bays = [new FakeBay(1), new FakeBay(2)];
  const robot = new SimRobot({
    name: 'sim',
    slots: 10,
    mailslots: 2,
    moveMs: MOVE,
    clock,
    drives: bays,
    slotContents: new Map([[1, 'TS0001L9'], [2, 'TS0002L9']]),
  });
  const pair = createMockPair();
  const simPort = new SerialPortStream({ binding: pair.binding, path: pair.simPath, baudRate: 9600 });
  simPort.on('error', () => undefined);
  const server = serveRobot(robot, simPort);
  const changer = await SerialMediaChanger.open({
    path: pair.clientPath,
    baudRate: 9600,
    binding: pair.binding,
    clock,
    commandTimeoutMs: TIMEOUT,
    retries: 3,
    retryDelayMs: DELAY,
    ...opts,
  });
  let t0 = clock.now();
  return {
    clock, robot, bays, pair, changer, simPort,
    elapsed: () => clock.now() - t0,
    mark: () => void (t0 = clock.now()),
    async close() {
      await changer.close();
      await server.close();
      await closePort(simPort);
    },
  };
}

function rejectsWith(code: ErrorCode, context: Record<string, unknown> = {}): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isTapestryError(err), `not a TapestryError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const [k, v] of Object.entries(context)) assert.deepEqual(err.context[k], v, `context.${k}`);
    return true;
  };
}

test('inventory, status, load, unload, transfer, eject and import; each move costs moveMs', async () => {
  const r = await rig();
  try {
    const inv = await r.changer.inventory();
    assert.equal(inv.slots.length, 10);
    assert.deepEqual(inv.slots[0], { address: { kind: 'slot', index: 1 }, label: 'TS0001L9' });
    assert.deepEqual(inv.drives.map((d) => d.label), [null, null]);
    assert.deepEqual(await r.changer.status(), { state: 'ready', slots: 10, drives: 2, mailslots: 2 });
    assert.equal(r.elapsed(), 0);

    await r.changer.load(1, 2);
    assert.equal(r.bays[1]!.label, 'TS0001L9');
    assert.equal(r.elapsed(), MOVE);
    await r.changer.unload(2, 5);
    await r.changer.transfer({ kind: 'slot', index: 5 }, { kind: 'slot', index: 6 });
    assert.equal(await r.changer.eject(6), 1);
    assert.equal(await r.changer.eject(2, 2), 2);
    await r.changer.import(1, 3);
    assert.deepEqual(r.robot.contents(), {
      slots: [null, null, 'TS0001L9', null, null, null, null, null, null, null],
      drives: [null, null],
      mailslots: [null, 'TS0002L9'],
    });
    assert.equal(r.elapsed(), 6 * MOVE);
  } finally {
    await r.close();
  }
});

test('concurrent commands run one at a time in FIFO order', async () => {
  const r = await rig();
  try {
    // Only valid in this order: the second needs the first's result, the third the second's.
    const results = await Promise.all([r.changer.load(1, 1), r.changer.unload(1, 7), r.changer.transfer({ kind: 'slot', index: 7 }, { kind: 'drive', index: 2 })]);
    assert.equal(results.length, 3);
    assert.equal(r.bays[1]!.label, 'TS0001L9');
    assert.equal(r.elapsed(), 3 * MOVE);
  } finally {
    await r.close();
  }
});

test('retryable codes are retried after retryDelayMs (10x for code 2) and succeed', async () => {
  const r = await rig();
  try {
    r.robot.failNext(3, 2);
    await r.changer.load(1, 1);
    assert.equal(r.elapsed(), 2 * DELAY + MOVE);

    r.mark();
    r.robot.failNext(2);
    await r.changer.unload(1, 1);
    assert.equal(r.elapsed(), 10 * DELAY + MOVE);

    for (const code of [9, 16]) {
      r.mark();
      r.robot.failNext(code);
      await r.changer.load(1, 1);
      await r.changer.unload(1, 1);
      assert.equal(r.elapsed(), DELAY + 2 * MOVE, `code ${code}`);
    }
  } finally {
    await r.close();
  }
});

test('retries exhausted: the last error is thrown with the robot code and attempt count', async () => {
  const r = await rig();
  try {
    r.robot.failNext(3, 5);
    await assert.rejects(r.changer.load(1, 1), rejectsWith('ROBOT_ERROR', { robotCode: 3, robotError: 'RETRY', command: 'LOAD S1 D1', attempts: 4 }));
    assert.deepEqual(r.robot.describeFaults().failNext, [3]);
    assert.equal(r.elapsed(), 3 * DELAY);

    r.robot.setBusy(10 * 60_000);
    assert.equal((await r.changer.status()).state, 'busy');
    await assert.rejects(r.changer.inventory(), rejectsWith('ROBOT_BUSY', { robotCode: 16, attempts: 4 }));
    r.robot.setBusy(0);
  } finally {
    await r.close();
  }
});

test('non-retryable codes fail at once with the mapped code', async () => {
  const r = await rig();
  try {
    const cases: [number, ErrorCode][] = [[1, 'MALFORMED'], [4, 'ROBOT_FORCE_DEMOUNT'], [5, 'DRIVE_DOWN'], [6, 'ROBOT_OPERATOR'], [8, 'ROBOT_OPERATOR'], [10, 'ELEMENT_EMPTY'], [11, 'ELEMENT_FULL'], [12, 'NO_SUCH_ELEMENT']];
    for (const [code, expected] of cases) {
      r.mark();
      r.robot.failNext(code);
      await assert.rejects(r.changer.load(1, 1), rejectsWith(expected, { robotCode: code, attempts: 1, command: 'LOAD S1 D1' }));
      assert.equal(r.elapsed(), 0, `code ${code} must not be retried`);
    }
    // And the real conditions behind them.
    await assert.rejects(r.changer.load(9, 1), rejectsWith('ELEMENT_EMPTY', { robotCode: 10 }));
    await assert.rejects(r.changer.load(1, 3), rejectsWith('NO_SUCH_ELEMENT', { robotCode: 12 }));
    await r.changer.load(1, 1);
    await assert.rejects(r.changer.load(2, 1), rejectsWith('ELEMENT_FULL', { robotCode: 11 }));
    r.bays[0]!.threaded = true;
    await assert.rejects(r.changer.unload(1, 1), rejectsWith('ROBOT_FORCE_DEMOUNT', { robotCode: 4 }));
    r.bays[1]!.down = true;
    await assert.rejects(r.changer.load(2, 2), rejectsWith('DRIVE_DOWN', { robotCode: 5 }));
    assert.equal(r.robot.contents().slots[1], 'TS0002L9', 'a refused load leaves the cartridge in its slot');
    r.robot.jam();
    assert.equal((await r.changer.status()).state, 'jammed');
    await assert.rejects(r.changer.load(2, 2), rejectsWith('ROBOT_OPERATOR', { robotCode: 8 }));
    assert.equal(r.robot.clearJam(), null);
    await assert.rejects(r.changer.load(0, 1), rejectsWith('USERERROR'));
  } finally {
    await r.close();
  }
});

test('a dropped reply times out on the clock and is retried; too many give ROBOT_TIMEOUT', async () => {
  const r = await rig();
  try {
    r.robot.dropNextReply();
    await r.changer.load(1, 1);
    assert.equal(r.elapsed(), TIMEOUT + DELAY + MOVE);

    r.mark();
    r.robot.dropNextReply(4);
    await assert.rejects(r.changer.unload(1, 1), rejectsWith('ROBOT_TIMEOUT', { command: 'UNLOAD D1 S1', attempts: 4 }));
    assert.equal(r.elapsed(), 4 * TIMEOUT + 3 * DELAY);
    assert.equal(r.bays[0]!.label, 'TS0001L9', 'dropped commands are not executed');
  } finally {
    await r.close();
  }
});

test('operator mail slot events reach onEvent', async () => {
  const r = await rig();
  try {
    const events: RobotEvent[] = [];
    const off = r.changer.onEvent((e) => events.push(e));
    const closed = new Promise<void>((resolve) => r.changer.onEvent((e) => e.args[0] === 'CLOSED' && resolve()));
    r.robot.operatorPutMailslots(['TS0100L9']);
    await closed;
    assert.deepEqual(events, [
      { kind: 'MAILSLOT', args: ['OPENED'] },
      { kind: 'MAILSLOT', args: ['CLOSED', 'I1=TS0100L9', 'I2=EMPTY'] },
    ]);
    off();
    await r.changer.import(1, 4);
    assert.equal(r.robot.contents().slots[3], 'TS0100L9');
    assert.throws(() => r.robot.operatorPutMailslots(['A1', 'A2', 'A3']), (e) => isTapestryError(e, 'ELEMENT_FULL'));
    assert.throws(() => r.robot.operatorPutMailslots(['TS0001L9']), (e) => isTapestryError(e, 'EXISTS'));
    assert.equal(events.length, 2, 'unsubscribed');
  } finally {
    await r.close();
  }
});

test('cutting the line fails the command in progress and everything queued with ROBOT_UNREACHABLE', async () => {
  const r = await rig();
  try {
    r.robot.dropNextReply(10); // keep the first command waiting for an answer
    const inflight = r.changer.load(1, 1);
    const queued = r.changer.status();
    const sent = new Promise<void>((resolve) => r.simPort.once('data', () => resolve()));
    await sent;
    r.pair.disconnect();
    await assert.rejects(inflight, rejectsWith('ROBOT_UNREACHABLE'));
    await assert.rejects(queued, rejectsWith('ROBOT_UNREACHABLE'));
    await assert.rejects(r.changer.inventory(), rejectsWith('ROBOT_UNREACHABLE'));
  } finally {
    await r.close();
  }
});

test('a port that does not exist is ROBOT_UNREACHABLE', async () => {
  const pair = createMockPair();
  await assert.rejects(
    SerialMediaChanger.open({ path: '/dev/mock-nothing-here', baudRate: 9600, binding: pair.binding, clock: new VirtualClock(), commandTimeoutMs: 1, retries: 0, retryDelayMs: 1 }),
    rejectsWith('ROBOT_UNREACHABLE', { path: '/dev/mock-nothing-here' }),
  );
  const lazy = new SerialMediaChanger({ path: '/dev/mock-nothing-here', baudRate: 9600, binding: pair.binding, clock: new VirtualClock(), commandTimeoutMs: 1, retries: 0, retryDelayMs: 1 });
  await assert.rejects(lazy.status(), rejectsWith('ROBOT_UNREACHABLE'));
  await lazy.close();
});

/** A scripted robot on the sim end: answers each request line with whatever `reply` returns. */
async function scripted(reply: (tag: number, line: string) => string): Promise<{ changer: SerialMediaChanger; clock: VirtualClock; close(): Promise<void> }> {
  const clock = new VirtualClock({ autoAdvance: true });
  const pair = createMockPair();
  const sim = new SerialPortStream({ binding: pair.binding, path: pair.simPath, baudRate: 9600 });
  sim.on('error', () => undefined);
  let buf = '';
  sim.on('data', (chunk: Buffer) => {
    buf += chunk.toString('latin1');
    let i: number;
    while ((i = buf.indexOf('\r\n')) !== -1) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      sim.write(reply(Number(line.split(' ')[0]), line));
    }
  });
  const changer = await SerialMediaChanger.open({ path: pair.clientPath, baudRate: 9600, binding: pair.binding, clock, commandTimeoutMs: TIMEOUT, retries: 2, retryDelayMs: DELAY });
  return { changer, clock, close: async () => { await changer.close(); await closePort(sim); } };
}

test('stale replies are ignored; replies are matched by tag', async () => {
  const s = await scripted((tag) => `${tag - 1} OK STALE\r\n${tag + 5} ERR 3 RETRY not yours\r\n${tag}-S1 EMPTY\r\n${tag}-D1 EMPTY\r\n${tag} OK\r\n`);
  try {
    const inv = await s.changer.inventory();
    assert.equal(inv.slots.length, 1);
    assert.equal(inv.drives.length, 1);
  } finally {
    await s.close();
  }
});

test('garbage from the robot is MALFORMED on the current command, never a crash', async () => {
  const replies = [
    (tag: number) => `${tag} HELLO\r\n`,
    () => 'complete garbage\r\n',
    (tag: number) => `${tag} OK \x00\x01\r\n`,
    (tag: number) => `${tag} OK ${'A'.repeat(300)}\r\n`,
    (tag: number) => `${tag} OK SOMETHING ELSE\r\n`, // parses as a line, but not as a STATUS
    (tag: number) => `${tag}-S1 FULL\r\n${tag} OK\r\n`, // bad inventory data
  ];
  let n = 0;
  const s = await scripted((tag) => replies[n++]!(tag));
  try {
    for (let i = 0; i < 5; i++) await assert.rejects(s.changer.status(), rejectsWith('MALFORMED', { attempts: 1 }), `reply ${i}`);
    await assert.rejects(s.changer.inventory(), rejectsWith('MALFORMED'));
    assert.equal(s.clock.now() - Date.UTC(2026, 0, 1), 0, 'MALFORMED is not retried');
  } finally {
    await s.close();
  }
});

test('the server answers garbage with ERR 1 SYNTAX and keeps serving', async () => {
  const clock = new VirtualClock({ autoAdvance: true });
  const robot = new SimRobot({ name: 'sim', slots: 2, mailslots: 1, moveMs: 1, clock, drives: [new FakeBay(1)] });
  const pair = createMockPair();
  const sim = new SerialPortStream({ binding: pair.binding, path: pair.simPath, baudRate: 9600 });
  const raw = new SerialPortStream({ binding: pair.binding, path: pair.clientPath, baudRate: 9600 });
  const server = serveRobot(robot, sim);
  const received: string[] = [];
  let buf = '';
  let wake: () => void = () => undefined;
  raw.on('data', (c: Buffer) => {
    buf += c.toString('latin1');
    const parts = buf.split('\r\n');
    buf = parts.pop()!;
    received.push(...parts);
    wake();
  });
  const until = async (count: number): Promise<void> => {
    while (received.length < count) await new Promise<void>((r) => (wake = r));
  };
  try {
    raw.write('hello\r\n');
    raw.write('4 LOAD S1\r\n');
    raw.write(Buffer.from([0x35, 0x20, 0xff, 0x0d, 0x0a]));
    raw.write('6 ' + 'X'.repeat(400) + '\r\n');
    raw.write('\r\n');
    raw.write('7 STATUS\r\n');
    await until(5);
    assert.deepEqual(received, [
      '* ERR 1 SYNTAX expected "<tag> <VERB> [args]" with a 1-8 digit tag',
      '4 ERR 1 SYNTAX LOAD takes 2 argument(s), got 1',
      '5 ERR 1 SYNTAX non-printable byte 0xff at column 3',
      '6 ERR 1 SYNTAX line longer than 256 bytes',
      '7 OK READY SLOTS=2 DRIVES=1 MAILSLOTS=1',
    ]);
  } finally {
    await server.close();
    await closePort(raw);
    await closePort(sim);
  }
});
