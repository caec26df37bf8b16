/**
 * Synthetic payloads for the soak (issue 5 item 7): a file of `length` bytes
 * is the 64 KiB block derived from `seed`, repeated, the last copy cut short.
 * The client and the simulated cartridge agree on (seed, length) instead of
 * moving or storing the bytes, and the adler32 of the whole content comes
 * from the block's in O(log n) through adler32Combine (zlib's
 * adler32_combine), by doubling: adler(2k blocks) = combine(adler(k), adler(k), k·B).
 */
import { adler32, adler32Combine } from './adler32.ts';

export const SYNTHETIC_BLOCK_BYTES = 65536;

/** The repeated block of `seed`: xorshift32 words, little-endian (seed 0 is mapped so the generator never sticks at 0). */
export function syntheticBlock(seed: number): Buffer {
  // Int32 throughout (an Int32Array, x | 0): a value that switches between
  // small integer and double makes V8 run this loop ~20x slower.
  const words = new Int32Array(SYNTHETIC_BLOCK_BYTES / 4);
  let x = seed | 0 || 0x9e3779b9 | 0;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  // Typed arrays use the host's byte order; the content is defined little-endian.
  if (!LITTLE_ENDIAN) for (let i = 0; i < words.length; i++) words[i] = (words[i]! & 0xff) << 24 | (words[i]! & 0xff00) << 8 | (words[i]! >>> 8) & 0xff00 | words[i]! >>> 24;
  return Buffer.from(words.buffer, 0, SYNTHETIC_BLOCK_BYTES);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** `length` bytes of the content of `seed` starting at `offset` (tests, small sizes). */
export function syntheticBytes(seed: number, offset: number, length: number): Buffer {
  const block = syntheticBlock(seed);
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; ) {
    const at = (offset + i) % SYNTHETIC_BLOCK_BYTES;
    const n = Math.min(SYNTHETIC_BLOCK_BYTES - at, length - i);
    block.copy(out, i, at, at + n);
    i += n;
  }
  return out;
}

/** adler32 of `count` back-to-back copies of a piece of `pieceBytes` bytes with checksum `piece` (square-and-multiply). */
export function adler32Repeat(piece: number, pieceBytes: number, count: number): number {
  let result = 1; // adler32 of nothing
  let power = piece; // adler32 of 2^i pieces
  let powerBytes = pieceBytes;
  for (let k = count; k > 0; k = Math.floor(k / 2)) {
    if (k % 2 === 1) result = adler32Combine(result, power, powerBytes);
    if (k > 1) {
      power = adler32Combine(power, power, powerBytes);
      powerBytes *= 2;
    }
  }
  return result;
}

export interface SyntheticChecksums {
  /** adler32 (1-seeded) of the whole content. */
  readonly crc: number;
  /** adler32 of the first min(length, 64 KiB) bytes: the sanity cookie (tape-io's SANITY_BYTES). */
  readonly sanityCrc: number;
  readonly sanitySize: number;
}

/** The checksums of the content of (seed, length) without producing it. */
export function syntheticChecksums(seed: number, length: number): SyntheticChecksums {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad synthetic length ${length}`);
  const block = syntheticBlock(seed);
  const whole = Math.floor(length / SYNTHETIC_BLOCK_BYTES);
  const tail = length % SYNTHETIC_BLOCK_BYTES;
  const blockCrc = adler32(block);
  const tailCrc = adler32(block.subarray(0, tail));
  const crc = adler32Combine(adler32Repeat(blockCrc, SYNTHETIC_BLOCK_BYTES, whole), tailCrc, tail);
  const sanitySize = Math.min(length, SYNTHETIC_BLOCK_BYTES);
  return { crc, sanityCrc: whole > 0 ? blockCrc : tailCrc, sanitySize };
}
