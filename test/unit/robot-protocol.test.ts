import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CATALOGUE, isTapestryError } from '../../src/errors/index.ts';
import {
  MAX_LINE_BYTES,
  ROBOT_ERRORS,
  drive,
  formatErr,
  formatEvent,
  formatInventoryLine,
  formatMailslotContents,
  formatRequest,
  formatStatus,
  isValidLabel,
  mailslot,
  parseEjectReply,
  parseElement,
  parseInventory,
  parseMailslotEvent,
  parseReplyLine,
  parseRequest,
  parseStatus,
  peekTag,
  robotErrorToTapestry,
  slot,
  type RobotCommand,
} from '../../src/hardware/robot-protocol.ts';

test('every command round-trips through format and parse', () => {
  const commands: RobotCommand[] = [
    { verb: 'INVENTORY' },
    { verb: 'STATUS' },
    { verb: 'LOAD', slot: 12, drive: 1 },
    { verb: 'UNLOAD', drive: 4, slot: 40 },
    { verb: 'TRANSFER', from: drive(2), to: mailslot(3) },
    { verb: 'TRANSFER', from: slot(1), to: slot(999999) },
    { verb: 'EJECT', slot: 7 },
    { verb: 'EJECT', slot: 7, mailslot: 2 },
    { verb: 'IMPORT', mailslot: 1, slot: 5 },
  ];
  for (const [i, command] of commands.entries()) {
    const tag = [1, 99999999, 42][i % 3]!;
    const text = formatRequest(tag, command);
    assert.deepEqual(parseRequest(text), { ok: true, tag, command }, text);
  }
  assert.equal(formatRequest(3, { verb: 'LOAD', slot: 12, drive: 1 }), '3 LOAD S12 D1');
});

test('bad requests are refused with a reason, keeping the tag when it was readable', () => {
  const cases: [string, number | null, RegExp][] = [
    ['', null, /tag/],
    ['LOAD S1 D1', null, /tag/],
    ['123456789 STATUS', null, /tag/], // 9 digits
    ['-1 STATUS', null, /tag/],
    ['5 FLY S1', 5, /unknown verb "FLY"/],
    ['5 status', 5, /unknown verb/],
    ['5  STATUS', 5, /unknown verb ""/],
    ['5 STATUS extra', 5, /takes 0/],
    ['5 LOAD S1', 5, /takes 2/],
    ['5 LOAD D1 S1', 5, /argument 1 of LOAD must be a slot/],
    ['5 LOAD S0 D1', 5, /argument 1/],
    ['5 LOAD S01 D1', 5, /argument 1/],
    ['5 LOAD S1 D1 ', 5, /takes 2/],
    ['5 EJECT S1 I1 I2', 5, /takes 1-2/],
    ['5 EJECT S1 D1', 5, /argument 2 of EJECT must be a mailslot/],
    ['5 TRANSFER S1 X1', 5, /an element/],
    ['5 IMPORT S1 S2', 5, /mailslot/],
  ];
  for (const [text, tag, reason] of cases) {
    const r = parseRequest(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) {
      assert.equal(r.tag, tag, text);
      assert.match(r.reason, reason, text);
    }
  }
  assert.equal(peekTag('17 LOAD S1 D'), 17);
  assert.equal(peekTag('17LOAD'), null);
});

test('elements and labels', () => {
  assert.deepEqual(parseElement('S12'), { kind: 'slot', index: 12 });
  assert.deepEqual(parseElement('D1'), { kind: 'drive', index: 1 });
  assert.deepEqual(parseElement('I2'), { kind: 'mailslot', index: 2 });
  for (const bad of ['s1', 'S', 'S0', 'S-1', 'X1', 'S1234567', ' S1', 'S1 ']) assert.equal(parseElement(bad), null, bad);
  assert.ok(isValidLabel('TS0021L9'));
  for (const bad of ['', 'EMPTY', 'A B', 'A=B', 'x'.repeat(33)]) assert.equal(isValidLabel(bad), false, bad);
});

test('reply lines parse: data, OK, ERR, events, malformed', () => {
  assert.deepEqual(parseReplyLine('12-S1 FULL TS0001L9'), { kind: 'data', tag: 12, data: 'S1 FULL TS0001L9' });
  assert.deepEqual(parseReplyLine('12 OK'), { kind: 'ok', tag: 12, text: '' });
  assert.deepEqual(parseReplyLine('12 OK I3'), { kind: 'ok', tag: 12, text: 'I3' });
  assert.deepEqual(parseReplyLine('12 ERR 4 FORCE_DEMOUNT tape threaded in D1'), { kind: 'err', tag: 12, code: 4, name: 'FORCE_DEMOUNT', text: 'tape threaded in D1' });
  assert.deepEqual(parseReplyLine('12 ERR 8 JAMMED'), { kind: 'err', tag: 12, code: 8, name: 'JAMMED', text: '' });
  assert.deepEqual(parseReplyLine('* MAILSLOT CLOSED I1=A I2=EMPTY'), { kind: 'event', event: { kind: 'MAILSLOT', args: ['CLOSED', 'I1=A', 'I2=EMPTY'] } });
  assert.deepEqual(parseReplyLine('* ERR 1 SYNTAX bad'), { kind: 'event', event: { kind: 'ERR', args: ['1', 'SYNTAX', 'bad'] } });
  for (const [text, tag] of [['hello', null], ['12 MAYBE', 12], ['12 ERR x', 12], ['12 ERR 3 lower', 12], ['* ', null], ['12', null]] as const) {
    const r = parseReplyLine(text);
    assert.equal(r.kind, 'malformed', text);
    if (r.kind === 'malformed') assert.equal(r.tag, tag, text);
  }
});

test('formatErr names the code, keeps text printable and the line short', () => {
  assert.equal(formatErr(7, 10, 'S3 is empty'), '7 ERR 10 EMPTY S3 is empty');
  assert.equal(formatErr(null, 1, 'bad\r\nline'), '* ERR 1 SYNTAX bad??line');
  assert.ok(formatErr(7, 3, 'x'.repeat(1000)).length <= MAX_LINE_BYTES);
  assert.equal(formatEvent({ kind: 'MAILSLOT', args: ['OPENED'] }), '* MAILSLOT OPENED');
});

test('INVENTORY data round-trips; corrupt inventories are MALFORMED', () => {
  const inv = {
    slots: [{ address: slot(1), label: 'TS0001L9' }, { address: slot(2), label: null }],
    drives: [{ address: drive(1), label: null }],
    mailslots: [{ address: mailslot(1), label: 'TS0009L9' }],
  };
  const lines = [...inv.slots, ...inv.drives, ...inv.mailslots].map(formatInventoryLine);
  assert.deepEqual(lines, ['S1 FULL TS0001L9', 'S2 EMPTY', 'D1 EMPTY', 'I1 FULL TS0009L9']);
  assert.deepEqual(parseInventory(lines), inv);
  for (const bad of [['S1 FULL'], ['S2 EMPTY'], ['S1 EMPTY', 'S1 EMPTY'], ['S1 HALF'], ['S1 FULL A B'], ['Q1 EMPTY'], ['S1 FULL EMPTY']]) {
    assert.throws(() => parseInventory(bad), (e) => isTapestryError(e, 'MALFORMED'), bad.join('|'));
  }
});

test('STATUS and EJECT replies', () => {
  const st = { state: 'jammed', slots: 40, drives: 4, mailslots: 4 } as const;
  assert.equal(formatStatus(st), 'JAMMED SLOTS=40 DRIVES=4 MAILSLOTS=4');
  assert.deepEqual(parseStatus('JAMMED SLOTS=40 DRIVES=4 MAILSLOTS=4'), st);
  assert.throws(() => parseStatus('READY SLOTS=40'), (e) => isTapestryError(e, 'MALFORMED'));
  assert.equal(parseEjectReply('I3'), 3);
  assert.throws(() => parseEjectReply('S3'), (e) => isTapestryError(e, 'MALFORMED'));
});

test('mail slot events', () => {
  const args = ['CLOSED', ...formatMailslotContents(['TS0021L9', null])];
  assert.deepEqual(args, ['CLOSED', 'I1=TS0021L9', 'I2=EMPTY']);
  const ev = parseMailslotEvent({ kind: 'MAILSLOT', args });
  assert.deepEqual(ev, { state: 'closed', contents: new Map([[1, 'TS0021L9'], [2, null]]) });
  assert.deepEqual(parseMailslotEvent({ kind: 'MAILSLOT', args: ['OPENED'] }), { state: 'opened' });
  assert.equal(parseMailslotEvent({ kind: 'DOOR', args: [] }), null);
  assert.throws(() => parseMailslotEvent({ kind: 'MAILSLOT', args: ['CLOSED', 'junk'] }), (e) => isTapestryError(e, 'MALFORMED'));
});

test('the error table: unique codes, valid Tapestry codes, CTA retry classes', () => {
  assert.equal(new Set(ROBOT_ERRORS.map((e) => e.code)).size, ROBOT_ERRORS.length);
  for (const e of ROBOT_ERRORS) assert.ok(Object.hasOwn(ERROR_CATALOGUE, e.tapestry), e.name);
  assert.deepEqual(ROBOT_ERRORS.filter((e) => e.retryable).map((e) => e.code), [2, 3, 9, 16]);
  assert.deepEqual(
    Object.fromEntries(ROBOT_ERRORS.map((e) => [e.code, e.tapestry])),
    { 1: 'MALFORMED', 2: 'ROBOT_ERROR', 3: 'ROBOT_ERROR', 4: 'ROBOT_FORCE_DEMOUNT', 5: 'DRIVE_DOWN', 6: 'ROBOT_OPERATOR', 8: 'ROBOT_OPERATOR', 9: 'ROBOT_ERROR', 10: 'ELEMENT_EMPTY', 11: 'ELEMENT_FULL', 12: 'NO_SUCH_ELEMENT', 16: 'ROBOT_BUSY' },
  );
  const err = robotErrorToTapestry(5, 'DRIVE_DOWN', 'D2 is down', 'LOAD S1 D2');
  assert.equal(err.code, 'DRIVE_DOWN');
  assert.deepEqual(err.context, { robotCode: 5, robotError: 'DRIVE_DOWN', robotText: 'D2 is down', command: 'LOAD S1 D2' });
  assert.equal(robotErrorToTapestry(77, 'NEW', '', 'STATUS').code, 'ROBOT_ERROR');
});
