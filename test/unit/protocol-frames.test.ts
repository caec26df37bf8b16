import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTapestryError } from '../../src/errors/index.ts';
import {
  DEFAULT_MAX_FRAME_BYTES,
  FrameDecoder,
  decodeDataMessage,
  decodeEnvelope,
  encodeDataMessage,
  encodeEnvelope,
  encodeFrame,
  type Envelope,
} from '../../src/protocol/index.ts';
import { DATA_MESSAGES, ENVELOPES } from '../helpers/protocol-samples.ts';

const malformed = (err: unknown): boolean => isTapestryError(err, 'MALFORMED');

const ALL_FRAMES = Buffer.concat(ENVELOPES.map((e) => encodeFrame(encodeEnvelope(e))));
/** A small stream (four short frames) for the every-pair-of-cuts test. */
const SMALL = ENVELOPES.filter((e) => ['heartbeat', 'state', 'dismount', 'ack'].includes(e.type));
const SMALL_FRAMES = Buffer.concat(SMALL.map((e) => encodeFrame(encodeEnvelope(e))));

/** Feed `stream` cut at `cuts` (ascending offsets) and decode every frame. */
function decodeCut(stream: Buffer, cuts: readonly number[]): Envelope[] {
  const decoder = new FrameDecoder();
  const out: Envelope[] = [];
  let from = 0;
  for (const to of [...cuts, stream.length]) {
    for (const frame of decoder.feed(stream.subarray(from, to))) out.push(decodeEnvelope(frame));
    from = to;
  }
  assert.equal(decoder.buffered, 0);
  return out;
}

/** Deterministic PRNG (mulberry32), so a failing fuzz case can be replayed from its seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('frames: a stream of every Envelope variant decodes the same at every single split point', () => {
  assert.deepEqual(decodeCut(ALL_FRAMES, []), ENVELOPES);
  for (let cut = 0; cut <= ALL_FRAMES.length; cut++) {
    assert.deepEqual(decodeCut(ALL_FRAMES, [cut]), ENVELOPES, `cut at ${cut}`);
  }
});

test('frames: a small stream decodes the same at every pair of split points', (t) => {
  let runs = 0;
  for (let a = 0; a <= SMALL_FRAMES.length; a++) {
    for (let b = a; b <= SMALL_FRAMES.length; b++) {
      assert.deepEqual(decodeCut(SMALL_FRAMES, [a, b]), SMALL, `cuts at ${a}, ${b}`);
      runs++;
    }
  }
  t.diagnostic(`${SMALL_FRAMES.length}-byte stream, ${runs} cut pairs`);
});

test('frames: one byte at a time', () => {
  const cuts = Array.from({ length: ALL_FRAMES.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(decodeCut(ALL_FRAMES, cuts), ENVELOPES);
});

test('frames: a 5,000-byte frame plus the next frame header, one byte per chunk', () => {
  const payload = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff));
  const stream = Buffer.concat([encodeFrame(payload), encodeFrame(Buffer.from([9, 9]))]);
  const decoder = new FrameDecoder();
  const frames: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) frames.push(...decoder.feed(stream.subarray(i, i + 1)));
  assert.deepEqual(frames, [payload, Buffer.from([9, 9])]);
  assert.equal(decoder.buffered, 0);
});

test('frames: a frame inside one chunk is returned without copying', () => {
  const frame = encodeFrame(encodeEnvelope(ENVELOPES[0]!));
  const [payload] = new FrameDecoder().feed(frame);
  assert.equal(payload!.buffer, frame.buffer);
});

test('frames: data channel — header frame then raw bytes in the same chunk: takeRemainder hands the raw bytes over', () => {
  const header = encodeFrame(encodeDataMessage(DATA_MESSAGES[0]!));
  const raw = Buffer.from('the first file bytes, unframed');
  const stream = Buffer.concat([header, raw]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const decoder = new FrameDecoder();
    decoder.push(stream.subarray(0, cut));
    let frame = decoder.next();
    if (frame === null) {
      decoder.push(stream.subarray(cut));
      frame = decoder.next();
      assert.ok(frame !== null, `cut ${cut}`);
      assert.deepEqual(decodeDataMessage(frame), DATA_MESSAGES[0]);
      assert.deepEqual(decoder.takeRemainder(), raw);
    } else {
      assert.deepEqual(decodeDataMessage(frame), DATA_MESSAGES[0]);
      const rest = Buffer.concat([decoder.takeRemainder(), stream.subarray(cut)]);
      assert.deepEqual(rest, raw, `cut ${cut}`);
    }
    assert.equal(decoder.buffered, 0);
  }
});

test('frames: zero-length frame → MALFORMED, and the decoder stays failed', () => {
  const decoder = new FrameDecoder();
  assert.throws(() => decoder.feed(Buffer.from([0, 0, 0, 0, 1, 2, 3])), malformed);
  assert.throws(() => decoder.next(), malformed);
  assert.throws(() => decoder.feed(encodeFrame(Buffer.from([1]))), malformed);
});

test('frames: an oversize length is refused as soon as its 4 bytes are in, before any payload', () => {
  const decoder = new FrameDecoder();
  const header = Buffer.alloc(4);
  header.writeUInt32BE(DEFAULT_MAX_FRAME_BYTES + 1);
  decoder.push(header.subarray(0, 3));
  assert.equal(decoder.next(), null);
  assert.throws(() => decoder.feed(header.subarray(3)), (err: unknown) => malformed(err) && /exceeds the limit/.test((err as Error).message));
});

test('frames: exactly the maximum is accepted, one byte more is not', () => {
  const ok = new FrameDecoder(16);
  assert.deepEqual(ok.feed(encodeFrame(Buffer.alloc(16, 7), 16)), [Buffer.alloc(16, 7)]);
  const bad = Buffer.alloc(4 + 17);
  bad.writeUInt32BE(17);
  assert.throws(() => new FrameDecoder(16).feed(bad), malformed);
});

test('frames: garbage (an HTTP request on the mover port) → MALFORMED', () => {
  assert.throws(() => new FrameDecoder().feed(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), malformed);
  assert.throws(() => new FrameDecoder().feed(Buffer.alloc(64, 0xff)), malformed);
});

test('frames: good frames before garbage in the same chunk are delivered; the error comes on the next call', () => {
  const decoder = new FrameDecoder();
  const good = encodeFrame(encodeEnvelope(ENVELOPES[1]!));
  const frames = decoder.feed(Buffer.concat([good, Buffer.from([0, 0, 0, 0])]));
  assert.equal(frames.length, 1);
  assert.throws(() => decoder.feed(Buffer.alloc(0)), malformed);
});

test('frames: encodeFrame refuses empty and oversize payloads', () => {
  assert.throws(() => encodeFrame(Buffer.alloc(0)), (e: unknown) => isTapestryError(e, 'INTERNAL'));
  assert.throws(() => encodeFrame(Buffer.alloc(9), 8), (e: unknown) => isTapestryError(e, 'INTERNAL'));
});

test('frames: fuzz — 10,000 random and mutated streams in random chunks never fail with anything but MALFORMED', (t) => {
  const seed = Date.now() >>> 0;
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
  const stats = { envelopes: 0, frameErrors: 0, payloadErrors: 0, incomplete: 0 };
  for (let i = 0; i < 10_000; i++) {
    let stream: Buffer;
    switch (i % 3) {
      case 0: // pure noise
        stream = bytes(int(300));
        break;
      case 1: { // a valid stream with a few bytes flipped, cut short or extended
        const s = Buffer.from(i % 2 === 0 ? ALL_FRAMES : SMALL_FRAMES);
        for (let k = int(4); k > 0; k--) s[int(s.length)] = int(256);
        stream = Buffer.concat([s.subarray(0, int(s.length + 1)), bytes(int(8))]);
        break;
      }
      default: { // plausible frames (small lengths) around random payloads
        const parts: Buffer[] = [];
        for (let k = 1 + int(4); k > 0; k--) {
          const payload = bytes(int(40));
          const header = Buffer.alloc(4);
          header.writeUInt32BE(rnd() < 0.9 ? payload.length : int(2 ** 32));
          parts.push(header, payload);
        }
        stream = Buffer.concat(parts);
      }
    }
    const decoder = new FrameDecoder();
    try {
      for (let at = 0; at < stream.length; ) {
        const n = 1 + int(64);
        for (const frame of decoder.feed(stream.subarray(at, at + n))) {
          try {
            decodeEnvelope(frame);
            stats.envelopes++;
          } catch (err) {
            assert.ok(malformed(err), `seed ${seed} case ${i}: payload error ${String(err)}`);
            stats.payloadErrors++;
          }
        }
        at += n;
      }
      if (decoder.buffered > 0) stats.incomplete++;
    } catch (err) {
      assert.ok(malformed(err), `seed ${seed} case ${i}: frame error ${String(err)}`);
      stats.frameErrors++;
    }
  }
  t.diagnostic(`seed ${seed}: ${JSON.stringify(stats)}`);
  assert.ok(stats.envelopes > 0 && stats.frameErrors > 0 && stats.payloadErrors > 0);
});
