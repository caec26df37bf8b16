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

/** Sizes around the points where implementations defer the modulo (NMAX = 5552) and the 16 KiB WASM copy. */
const SIZES = [0, 1, 2, 3, 15, 16, 17, 255, 256, 5551, 5552, 5553, 11104, 16383, 16384, 16385, 65535, 65536, 65537, 1_048_579];

test('adler32: known vectors (zlib)', () => {
  const vectors: [string | Buffer, number][] = [
    ['', 0x00000001],
    ['a', 0x00620062],
    ['abc', 0x024d0127],
    ['Wikipedia', 0x11e60398],
    ['message digest', 0x29750586],
    ['abcdefghijklmnopqrstuvwxyz', 0x90860b20],
    [Buffer.alloc(100_000, 0xff), 0x149a302c],
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
  t.diagnostic(`adler32 (hash-wasm, 256 KiB updates): ${(buf.length / 1e6 / seconds).toFixed(0)} MB/s`);
});
