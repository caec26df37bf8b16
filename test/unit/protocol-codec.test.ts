import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isTapestryError } from '../../src/errors/index.ts';
import { decodeDataMessage, decodeEnvelope, encodeDataMessage, encodeEnvelope, type Envelope } from '../../src/protocol/index.ts';
import { DATA_MESSAGES, ENVELOPES, SPARSE_ENVELOPES } from '../helpers/protocol-samples.ts';

const malformed = (err: unknown): boolean => isTapestryError(err, 'MALFORMED');

/** A protobuf varint, for hand-made wire bytes. */
function varint(n: bigint): number[] {
  const out: number[] = [];
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) byte |= 0x80;
    out.push(byte);
  } while (n > 0n);
  return out;
}

test('codec: every Envelope variant round-trips to an equal plain object', () => {
  const types = new Set<string>();
  for (const env of [...ENVELOPES, ...SPARSE_ENVELOPES]) {
    const decoded = decodeEnvelope(encodeEnvelope(env));
    assert.deepEqual(decoded, env, env.type);
    types.add(env.type);
  }
  assert.deepEqual([...types].sort(), ['ack', 'assign', 'dismount', 'done', 'error', 'heartbeat', 'hello', 'state']);
});

test('codec: decoded objects are plain (no protobuf classes leak out)', () => {
  for (const env of ENVELOPES) {
    const decoded = decodeEnvelope(encodeEnvelope(env)) as unknown as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
    assert.equal(Object.getPrototypeOf(decoded[env.type]), Object.prototype, env.type);
  }
});

test('codec: Assign keeps crc 0 apart from no crc (proto3 optional)', () => {
  const assign = ENVELOPES.find((e) => e.type === 'assign')!;
  assert.equal(assign.type === 'assign' && assign.assign.crc, 0);
  const back = decodeEnvelope(encodeEnvelope(assign));
  assert.ok(back.type === 'assign' && back.assign.crc === 0);
  const sparse = SPARSE_ENVELOPES.find((e) => e.type === 'assign')!;
  const back2 = decodeEnvelope(encodeEnvelope(sparse));
  assert.ok(back2.type === 'assign' && back2.assign.crc === null && back2.assign.sanityCrc === null);
});

test('codec: every DataMessage variant round-trips', () => {
  for (const msg of DATA_MESSAGES) assert.deepEqual(decodeDataMessage(encodeDataMessage(msg)), msg, msg.type);
});

test('codec: no message encodes to zero bytes (the frame layer rejects empty frames)', () => {
  for (const env of [...ENVELOPES, ...SPARSE_ENVELOPES]) assert.ok(encodeEnvelope(env).length > 0, env.type);
  for (const msg of DATA_MESSAGES) assert.ok(encodeDataMessage(msg).length > 0, msg.type);
});

test('codec: garbage and incomplete messages decode to MALFORMED', () => {
  const cases: [string, number[]][] = [
    ['empty (no body)', []],
    ['only a seq', [0x08, 0x05]],
    ['length past the end', [0x52, 0x7f, 0x0a]],
    ['truncated varint', [0x08, 0xff, 0xff]],
    ['wire type 7', [0x0f]],
    ['field number 0', [0x00, 0x01]],
    ['unterminated group', [0x13, 0x13, 0x13]],
    ['HTTP request', [...Buffer.from('GET / HTTP/1.1\r\n')]],
    ['seq above 2^53', [0x08, ...varint(2n ** 60n), 0x5a, 0x00]],
    ['unknown mover state', [0x62, 0x02, 0x08, 0x63]],
    ['unspecified transfer kind', [0x6a, 0x02, 0x0a, 0x00]],
  ];
  for (const [what, bytes] of cases) {
    assert.throws(() => decodeEnvelope(Buffer.from(bytes)), malformed, what);
  }
  assert.throws(() => decodeDataMessage(Buffer.alloc(0)), malformed, 'empty DataFrame');
  assert.throws(() => decodeDataMessage(Buffer.from([0x0a, 0x02, 0x10, 0x05])), malformed, 'unknown direction');
});

test('codec: 100,000 nested groups fail as MALFORMED (depth limit), never as another error', () => {
  assert.throws(() => decodeEnvelope(Buffer.alloc(100_000, 0x13)), malformed);
});

test('codec: random buffers decode to a valid Envelope or MALFORMED, nothing else', () => {
  let decoded = 0;
  for (let i = 0; i < 5000; i++) {
    const buf = randomBytes(Math.floor(Math.random() * 64));
    try {
      const env: Envelope = decodeEnvelope(buf);
      assert.equal(typeof env.type, 'string');
      decoded++;
    } catch (err) {
      assert.ok(malformed(err), `unexpected ${String(err)} for ${buf.toString('hex')}`);
    }
  }
  assert.ok(decoded < 5000);
});

test('codec: an error code this build does not know arrives as INTERNAL with the code in the message', () => {
  const bytes = encodeEnvelope({ seq: 1, type: 'error', error: { code: 'MALFORMED', message: 'x' } });
  // Re-encode with a code from a newer peer by patching the string in place (same length).
  const patched = Buffer.from(bytes.toString('latin1').replace('MALFORMED', 'NEW_THING'), 'latin1');
  const env = decodeEnvelope(patched);
  assert.ok(env.type === 'error');
  assert.equal(env.error.code, 'INTERNAL');
  assert.equal(env.error.message, '[NEW_THING] x');
});

test('codec: encoding an out-of-range number is a caller bug (INTERNAL), not a silent truncation', () => {
  assert.throws(() => encodeEnvelope({ seq: -1, type: 'ack', ack: { ackSeq: 0 } }), (e: unknown) => isTapestryError(e, 'INTERNAL'));
  assert.throws(() => encodeEnvelope({ seq: 1, type: 'ack', ack: { ackSeq: 2 ** 53 } }), (e: unknown) => isTapestryError(e, 'INTERNAL'));
  const assign = ENVELOPES.find((e) => e.type === 'assign')!;
  assert.ok(assign.type === 'assign');
  assert.throws(() => encodeEnvelope({ ...assign, assign: { ...assign.assign, fileNo: 2 ** 32 } }), (e: unknown) => isTapestryError(e, 'INTERNAL'));
});
