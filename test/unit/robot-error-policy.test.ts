import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROBOT_ERRORS, robotErrorToTapestry } from '../../src/hardware/robot-protocol.ts';
import { alarmFor, classifyRobotFailure, driveDownKey, lmAction, needsRobot, robotAttentionKey, robotLocationKey, type RobotFailureClass } from '../../media-changer/robot-error-policy.ts';
import { TapestryError } from '../../src/errors/index.ts';

const at = { robot: 'robot-1', drive: 'drive-2', volume: 'TS0003L9', op: 'mount' } as const;

/** Every code of the robot's table, as the media changer sees it: the class, the LM's action, the alarm key. */
const EXPECTED: Record<string, { cls: RobotFailureClass; lm: string; alarm: string | null }> = {
  SYNTAX: { cls: 'other', lm: 'default', alarm: null },
  RELEASE_RETRY: { cls: 'transient', lm: 'default', alarm: null },
  RETRY: { cls: 'transient', lm: 'default', alarm: null },
  FORCE_DEMOUNT: { cls: 'force-demount', lm: 'default', alarm: null },
  DRIVE_DOWN: { cls: 'drive-down', lm: 'drive-down', alarm: driveDownKey('drive-2') },
  OPERATOR: { cls: 'operator', lm: 'hold', alarm: robotAttentionKey('robot-1') },
  JAMMED: { cls: 'operator', lm: 'hold', alarm: robotAttentionKey('robot-1') },
  UNLOAD_RETRY: { cls: 'transient', lm: 'default', alarm: null },
  EMPTY: { cls: 'location', lm: 'default', alarm: robotLocationKey('TS0003L9') },
  FULL: { cls: 'location', lm: 'default', alarm: robotLocationKey('TS0003L9') },
  NO_ELEMENT: { cls: 'location', lm: 'default', alarm: robotLocationKey('TS0003L9') },
  BUSY: { cls: 'transient', lm: 'default', alarm: null },
};

test('every robot error code of the table has a class, an LM action and (or not) an alarm', () => {
  assert.deepEqual(Object.keys(EXPECTED).sort(), ROBOT_ERRORS.map((e) => e.name).sort(), 'the test covers the whole table');
  for (const spec of ROBOT_ERRORS) {
    const err = robotErrorToTapestry(spec.code, spec.name, 'text from the robot', 'LOAD S3 D2');
    const want = EXPECTED[spec.name]!;
    assert.equal(classifyRobotFailure(err), want.cls, spec.name);
    assert.equal(lmAction(err.code), want.lm, spec.name);
    assert.equal(alarmFor(err, at)?.key ?? null, want.alarm, spec.name);
  }
});

test('failures without a robot reply behind them are classified by their code', () => {
  const cases: [string, RobotFailureClass][] = [
    ['ROBOT_TIMEOUT', 'transient'], ['ROBOT_BUSY', 'transient'], ['ROBOT_ERROR', 'transient'],
    ['ROBOT_FORCE_DEMOUNT', 'force-demount'], ['DRIVE_DOWN', 'drive-down'], ['ROBOT_OPERATOR', 'operator'],
    ['NO_SUCH_VOLUME', 'location'], ['ELEMENT_FULL', 'location'],
    ['ROBOT_UNREACHABLE', 'other'], ['MEDIA_ERROR', 'other'], ['CONFLICT', 'other'],
  ];
  for (const [code, cls] of cases) assert.equal(classifyRobotFailure({ code }), cls, code);
  // An unknown robot code maps to ROBOT_ERROR, but the serial client did not retry it: still transient for the LM.
  assert.equal(classifyRobotFailure(robotErrorToTapestry(77, 'WHATEVER', '', 'LOAD S1 D1')), 'transient');
});

test('alarms carry the robot text, name the volume, and say what to do', () => {
  const jam = alarmFor(robotErrorToTapestry(8, 'JAMMED', 'accessor jammed', 'LOAD S3 D2'), at)!;
  assert.equal(jam.severity, 'critical');
  assert.equal(jam.code, 'ROBOT_OPERATOR');
  assert.match(jam.message, /accessor jammed/);
  assert.match(jam.message, /tapestry robot reset robot-1/);
  assert.deepEqual({ robot: jam.detail.robot, volume: jam.detail.volume, robotCode: jam.detail.robotCode }, { robot: 'robot-1', volume: 'TS0003L9', robotCode: 8 });

  const empty = alarmFor(robotErrorToTapestry(10, 'EMPTY', 'S3 is empty', 'LOAD S3 D2'), at)!;
  assert.equal(empty.code, 'ELEMENT_EMPTY');
  assert.match(empty.message, /TS0003L9/);
  assert.match(empty.message, /S3 is empty/);

  const own = alarmFor(new TapestryError('NO_SUCH_VOLUME', 'no cartridge TS0003L9 in robot robot-1'), { ...at, op: 'dismount' })!;
  assert.equal(own.key, robotLocationKey('TS0003L9'));
  assert.match(own.message, /no cartridge TS0003L9 in robot robot-1/);
  assert.equal(alarmFor(new TapestryError('ROBOT_TIMEOUT', 'late'), at), null);
});

test('LM actions for codes that are not robot failures', () => {
  for (const code of [null, 'MEDIA_ERROR', 'ROBOT_BUSY', 'ROBOT_TIMEOUT', 'ELEMENT_EMPTY']) assert.equal(lmAction(code), 'default', String(code));
});

test('while a robot is held, only work on the tape already in the drive goes ahead', () => {
  assert.equal(needsRobot({ kind: 'wait' }, null), false);
  assert.equal(needsRobot({ kind: 'wait' }, 'TS0001L9'), false);
  assert.equal(needsRobot({ kind: 'dismount' }, 'TS0001L9'), true);
  assert.equal(needsRobot({ kind: 'read', volumeLabel: 'TS0001L9' }, 'TS0001L9'), false);
  assert.equal(needsRobot({ kind: 'read', volumeLabel: 'TS0002L9' }, 'TS0001L9'), true);
  assert.equal(needsRobot({ kind: 'read', volumeLabel: 'TS0002L9' }, null), true);
  assert.equal(needsRobot({ kind: 'write', volumeLabel: 'TS0001L9' }, 'TS0001L9'), false);
  assert.equal(needsRobot({ kind: 'write' }, 'TS0001L9'), true, 'a write to a volume the clerk has yet to pick needs a mount');
  assert.equal(needsRobot({ kind: 'write' }, null), true);
});
