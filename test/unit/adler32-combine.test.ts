import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adler32, adler32Combine } from '../../src/checksum/adler32.ts';
import { adler32Repeat, SYNTHETIC_BLOCK_BYTES, syntheticBlock, syntheticBytes, syntheticChecksums } from '../../src/checksum/synthetic.ts';

describe('adler32Combine', () => {
  it('equals adler32 of the concatenation at every split point of a small buffer', () => {
    const buf = syntheticBytes(7, 0, 1500);
    for (let split = 0; split <= buf.length; split += 37) {
      const a = buf.subarray(0, split);
      const b = buf.subarray(split);
      assert.equal(adler32Combine(adler32(a), adler32(b), b.length), adler32(buf), `split at ${split}`);
    }
  });

  it('holds for 0xff runs, where the sums wrap the modulus fastest', () => {
    const a = Buffer.alloc(70_000, 0xff);
    const b = Buffer.alloc(123_457, 0xff);
    assert.equal(adler32Combine(adler32(a), adler32(b), b.length), adler32(Buffer.concat([a, b])));
  });
});

describe('adler32Repeat', () => {
  it('equals adler32 of k copies for k = 0..9', () => {
    const piece = Buffer.from('tapestry soak piece, 31 bytes!');
    for (let k = 0; k <= 9; k++) {
      assert.equal(adler32Repeat(adler32(piece), piece.length, k), adler32(Buffer.concat(Array(k).fill(piece))), `k = ${k}`);
    }
  });
});

describe('synthetic payload checksums', () => {
  it('a seed gives one fixed block; different seeds differ', () => {
    assert.deepEqual(syntheticBlock(42), syntheticBlock(42));
    assert.notDeepEqual(syntheticBlock(42), syntheticBlock(43));
    assert.equal(syntheticBlock(0).length, SYNTHETIC_BLOCK_BYTES);
  });

  it('match the real adler32 of the materialised content, around block boundaries and beyond', () => {
    const B = SYNTHETIC_BLOCK_BYTES;
    for (const length of [0, 1, 100, B - 1, B, B + 1, 2 * B, 3 * B + 12_345, 7 * B - 3, 16 * B + 1]) {
      for (const seed of [0, 1, 0xdeadbeef]) {
        const bytes = syntheticBytes(seed, 0, length);
        const sums = syntheticChecksums(seed, length);
        assert.equal(sums.crc, adler32(bytes), `crc of seed ${seed}, ${length} bytes`);
        assert.equal(sums.sanitySize, Math.min(length, B));
        assert.equal(sums.sanityCrc, adler32(bytes.subarray(0, B)), `sanity of seed ${seed}, ${length} bytes`);
      }
    }
  });

  it('computes a 2 GB file without materialising it (and agrees with streaming the blocks for 64 MiB)', () => {
    const block = syntheticBlock(99);
    let streamed = 1;
    for (let i = 0; i < 1024; i++) streamed = adler32Combine(streamed, adler32(block), block.length);
    assert.equal(syntheticChecksums(99, 1024 * SYNTHETIC_BLOCK_BYTES).crc, streamed);
    const big = syntheticChecksums(99, 2_000_000_000);
    assert.equal(typeof big.crc, 'number');
    assert.ok(big.crc >= 0 && big.crc <= 0xffffffff);
  });
});
