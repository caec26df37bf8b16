/**
 * adler32 throughput of `Adler32.update` (src/checksum/adler32.ts, WASM SIMD):
 *
 *   npx tsx tools/bench/adler32.ts
 *
 * (a) one 256 KiB buffer hashed 4096 times (1 GiB; the buffer stays in cache,
 *     so this is the hashing plus the copy into WASM memory);
 * (b) 1 GiB of distinct 1 MiB chunks (each update() copies and hashes four
 *     256 KiB pieces; the data comes from memory, as in a transfer).
 * Best of 5 runs each, after a warm-up. GiB = 2^30 bytes. For comparison,
 * Node's zlib.crc32 over (a), measured the same way.
 */
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { Adler32 } from '../../src/checksum/adler32.ts';

const GiB = 2 ** 30;

function best(label: string, bytes: number, run: () => void): void {
  run(); // warm-up: JIT, page faults
  let fastest = Infinity;
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    run();
    fastest = Math.min(fastest, performance.now() - start);
  }
  console.log(`${label.padEnd(44)} ${(bytes / GiB / (fastest / 1000)).toFixed(2)} GiB/s`);
}

const small = randomBytes(256 * 1024);
best('Adler32.update, 256 KiB buffer x 4096', 4096 * small.length, () => {
  const h = new Adler32();
  for (let i = 0; i < 4096; i++) h.update(small);
  h.digest();
});

const big = randomBytes(GiB);
best('Adler32.update, 1 GiB in 1 MiB chunks', big.length, () => {
  const h = new Adler32();
  for (let at = 0; at < big.length; at += 1024 * 1024) h.update(big.subarray(at, at + 1024 * 1024));
  h.digest();
});

// zlib.crc32 arrived in Node 20.15 / 22.2; skip it where missing.
const crc32 = (zlib as unknown as { crc32?: (b: Uint8Array, v?: number) => number }).crc32;
if (crc32) {
  best('zlib.crc32 (comparison), 256 KiB x 4096', 4096 * small.length, () => {
    let c = 0;
    for (let i = 0; i < 4096; i++) c = crc32(small, c);
  });
}
