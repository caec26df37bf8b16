import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Adler32, adler32, adler32Combine, adler32FromZeroSeeded, adler32ToZeroSeeded } from '../../src/checksum/adler32.ts';

/** Plain-JS reference (RFC 1950), byte by byte; `seed` 1 is the standard, 0 Enstore's variant. */
function reference(buf: Uint8Array, seed = 1): number {
  let a = seed;
  let b = 0;
  for (const byte of buf) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** Sizes around the points where the WASM defers the modulo (NMAX = 5552), its 16-byte vectors and the 256 KiB copy into WASM memory. */
const SIZES = [0, 1, 2, 3, 15, 16, 17, 255, 256, 5551, 5552, 5553, 11104, 16383, 16384, 16385, 65535, 65536, 65537, 262_143, 262_144, 262_145, 1_048_579];

/** Every length 0..100, then ±1 (and the 16-byte neighbours) around NMAX, its multiples, the scratch size and 1 MiB. */
const LENGTHS = [
  ...Array.from({ length: 101 }, (_, i) => i),
  ...[5536, 5552, 2 * 5552, 3 * 5552 + 7, 4096, 65536, 262_144, 2 * 262_144, 1_048_576].flatMap((n) => [n - 17, n - 16, n - 15, n - 1, n, n + 1, n + 15, n + 16, n + 17]),
];

/** A prefix after which the running value is a = b = 65520, the largest state a chunk can start from. */
function maxStatePrefix(): Buffer {
  // 256 × 0xff + 239 sums to 65519, so a = 1 + 65519 = 65520; each 0 byte then adds a ≡ -1 (mod 65521) to b.
  const head = Buffer.concat([Buffer.alloc(256, 0xff), Buffer.from([239])]);
  const b = reference(head) >>> 16;
  return Buffer.concat([head, Buffer.alloc((b - 65520 + 65521) % 65521)]);
}

test('adler32: known vectors (zlib)', () => {
  const vectors: [string | Buffer, number][] = [
    ['', 0x00000001],
    ['a', 0x00620062],
    ['abc', 0x024d0127],
    ['Wikipedia', 0x11e60398],
    ['message digest', 0x29750586],
    ['abcdefghijklmnopqrstuvwxyz', 0x90860b20],
    [Buffer.alloc(100_000, 0xff), 0x149a302c],
    // n zero bytes leave a = 1 and add it to b n times.
    [Buffer.alloc(1_000_000), (((1_000_000 % 65521) << 16) | 1) >>> 0],
  ];
  for (const [input, want] of vectors) {
    const buf = typeof input === 'string' ? Buffer.from(input) : input;
    assert.equal(adler32(buf), want, `one-shot ${String(input).slice(0, 20)}`);
    assert.equal(new Adler32().update(buf).digest(), want, `streaming ${String(input).slice(0, 20)}`);
  }
});

test('adler32: matches the reference on random buffers of many sizes, one-shot and streamed in random pieces', () => {
  for (const size of SIZES) {
    const buf = randomBytes(size);
    const want = reference(buf);
    assert.equal(adler32(buf), want, `one-shot size ${size}`);
    const h = new Adler32();
    for (let at = 0; at < size; ) {
      const n = Math.min(size - at, 1 + Math.floor(Math.random() * 70_000));
      h.update(buf.subarray(at, at + n));
      at += n;
    }
    assert.equal(h.digest(), want, `streamed size ${size}`);
    assert.equal(h.bytes, size);
  }
});

test('adler32: all-0xff input keeps the sums exact (largest intermediate values)', () => {
  const buf = Buffer.alloc(3 * 65521 + 17, 0xff);
  const h = new Adler32();
  for (let at = 0; at < buf.length; at += 4099) h.update(buf.subarray(at, at + 4099));
  assert.equal(h.digest(), reference(buf));
});

test('adler32: matches the reference for every length 0..100 and around the vector, NMAX and scratch boundaries', () => {
  const data = randomBytes(Math.max(...LENGTHS));
  for (const n of LENGTHS) {
    const buf = data.subarray(0, n);
    assert.equal(adler32(buf), reference(buf), `length ${n}`);
  }
});

test('adler32: several MiB of 0xff, one-shot, streamed, and from the largest running state', () => {
  const ff = Buffer.alloc(5 * 1024 * 1024 + 13, 0xff);
  assert.equal(adler32(ff), reference(ff), 'one-shot');
  const h = new Adler32();
  for (let at = 0; at < ff.length; at += 1_000_003) h.update(ff.subarray(at, at + 1_000_003));
  assert.equal(h.digest(), reference(ff), 'streamed');

  const prefix = maxStatePrefix();
  assert.equal(reference(prefix), 0xfff0fff0);
  assert.equal(adler32(prefix), 0xfff0fff0);
  const all = Buffer.concat([prefix, ff]);
  assert.equal(new Adler32().update(prefix).update(ff).digest(), reference(all), 'after a = b = 65520');
  assert.equal(adler32(all), reference(all), 'one-shot of prefix + 0xff');
});

test('adler32: streaming at random split points equals one-shot', () => {
  const buf = randomBytes(1024 * 1024 + 5);
  const want = adler32(buf);
  assert.equal(want, reference(buf));
  for (let round = 0; round < 20; round++) {
    const h = new Adler32();
    // Mix tiny pieces (scalar tail only) with ones spanning several NMAX chunks and scratch copies.
    const maxPiece = [17, 5600, 300_000][round % 3]!;
    for (let at = 0; at < buf.length; ) {
      const n = Math.min(buf.length - at, Math.floor(Math.random() * maxPiece));
      h.update(buf.subarray(at, at + n));
      at += n;
    }
    assert.equal(h.digest(), want, `round ${round} (pieces up to ${maxPiece})`);
    assert.equal(h.bytes, buf.length);
  }
});

test('adler32: unaligned subarrays (byteOffset not a multiple of 16)', () => {
  const data = randomBytes(600_000);
  for (const offset of [1, 3, 7, 8, 15, 17, 31, 4099]) {
    for (const n of [0, 1, 15, 16, 17, 100, 5552, 5553, 262_145, 400_000]) {
      const buf = data.subarray(offset, offset + n);
      assert.notEqual(buf.byteOffset % 16, 0);
      assert.equal(adler32(buf), reference(buf), `offset ${offset}, length ${n}`);
      assert.equal(new Adler32().update(buf).digest(), reference(buf), `streamed, offset ${offset}, length ${n}`);
    }
  }
});

test('adler32: interleaved Adler32 objects do not mix', () => {
  const a = randomBytes(300_000);
  const b = randomBytes(300_000);
  const ha = new Adler32();
  const hb = new Adler32();
  for (let at = 0; at < a.length; at += 70_001) {
    ha.update(a.subarray(at, at + 70_001));
    hb.update(b.subarray(at, at + 70_001));
  }
  assert.equal(ha.digest(), reference(a));
  assert.equal(hb.digest(), reference(b));
});

test('adler32: update() after digest() continues the stream; empty updates change nothing', () => {
  const a = randomBytes(1000);
  const b = randomBytes(2000);
  const h = new Adler32().update(a);
  assert.equal(h.digest(), reference(a));
  h.update(Buffer.alloc(0)).update(b);
  assert.equal(h.digest(), reference(Buffer.concat([a, b])));
});

test('adler32Combine agrees with hashing the concatenation', () => {
  for (const [la, lb] of [[0, 0], [0, 5], [5, 0], [1, 65521], [65521, 1], [70_000, 131_042]] as const) {
    const a = randomBytes(la);
    const b = randomBytes(lb);
    assert.equal(adler32Combine(reference(a), reference(b), lb), reference(Buffer.concat([a, b])), `${la}+${lb}`);
  }
});

test("Enstore's 0-seeded adler32 converts both ways given the length", () => {
  for (const size of SIZES) {
    const buf = randomBytes(size);
    const standard = reference(buf, 1);
    const zero = reference(buf, 0);
    assert.equal(adler32FromZeroSeeded(zero, size), standard, `from 0-seeded, size ${size}`);
    assert.equal(adler32ToZeroSeeded(standard, size), zero, `to 0-seeded, size ${size}`);
  }
});

test('adler32 throughput (measured, not asserted)', (t) => {
  const buf = randomBytes(64 * 1024 * 1024);
  const start = performance.now();
  const h = new Adler32();
  for (let at = 0; at < buf.length; at += 256 * 1024) h.update(buf.subarray(at, at + 256 * 1024));
  h.digest();
  const seconds = (performance.now() - start) / 1000;
  t.diagnostic(`adler32 (WASM SIMD, 256 KiB updates): ${(buf.length / 1e6 / seconds).toFixed(0)} MB/s`);
});
