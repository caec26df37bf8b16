/**
 * Throughput of the tape data path against `cp` on the same disk, in one run:
 * writeFile (cpio wrap + adler32 + re-blocking + SimDrive with unlimited rate
 * on SystemClock(0)) and readFile (SimDrive + cpio unwrap + adler32 + writing
 * the destination file).
 *
 *   npx tsx tools/bench/tape-path.ts [--size 1GiB] [--dir DIR] [--runs 3]
 *                                    [--block-size 256KiB] [--chunk 1MiB]
 *
 * Pairs compared (time(cp) / time(tapestry), target ≥ 0.8 in issue 3):
 *  - write, durable: the simulated cartridge fsyncs at the filemark (as a drive
 *    flushes its buffer there) vs `cp` + `sync FILE`;
 *  - write, page cache: the cartridge with syncOnFilemark off vs plain `cp`;
 *  - read, durable: tape → destination file + fsync vs `cp` + `sync FILE`;
 *  - read, page cache: tape → destination file vs plain `cp`.
 * GNU cp 9 copies with copy_file_range: inside the kernel, no user-space copy
 * and no checksum, so the page-cache pairs measure our whole user-space
 * pipeline (two checksums: adler32 here, crc32 per block in the simulator)
 * against a kernel memcpy; the durable pairs are what a tape write means.
 *
 * The source is read with one reused buffer (`--source stream` uses
 * fs.createReadStream instead, which allocates a fresh buffer per chunk):
 * writeFile copies each chunk into its block buffer before asking for the
 * next, so a source may reuse its buffer.
 * The page cache is flushed (`sync`, untimed) before every timed step so one
 * step's writeback does not slow the next; each figure is the median of --runs.
 * The source sits in the page cache for every step (it was just written), so
 * both sides read it from memory.
 */
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { MediaTypeConfig } from '../../src/config/types.ts';
import { parseSize } from '../../src/config/units.ts';
import { SystemClock } from '../../src/time/clock.ts';
import { CartridgeStore } from '../../hardware-sim/cartridge-store.ts';
import { SimDrive } from '../../hardware-sim/drive.ts';
import { readFile, writeFile, writeLabel, type WriteFileResult } from '../../movers/tape-io.ts';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1GiB' },
    dir: { type: 'string', default: os.tmpdir() },
    runs: { type: 'string', default: '3' },
    'block-size': { type: 'string', default: '256KiB' },
    chunk: { type: 'string', default: '1MiB' },
    source: { type: 'string', default: 'reuse' },
  },
});

function sizeArg(name: string, value: string): number {
  const n = parseSize(value);
  if (n === null || n <= 0) throw new Error(`--${name}: not a size: ${value}`);
  return n;
}
const size = sizeArg('size', values.size);
const blockSize = sizeArg('block-size', values['block-size']);
const chunk = sizeArg('chunk', values.chunk);
const runs = Math.max(1, Number.parseInt(values.runs, 10) || 1);

const flush = (): void => void execFileSync('sync');

/**
 * Median wall time of `runs` calls of `fn`. Before each, untimed: `prepare`
 * (removing the previous run's output: on this `discard`-mounted disk an rm
 * trims blocks) and a `sync`, so one step's writeback does not slow the next.
 */
async function median<T>(prepare: (run: number) => Promise<T>, fn: (prepared: T) => Promise<void> | void): Promise<number> {
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const prepared = await prepare(run);
    flush();
    const start = process.hrtime.bigint();
    await fn(prepared);
    times.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

const mbps = (seconds: number): string => `${(size / 1e6 / seconds).toFixed(0).padStart(5)} MB/s`;
function report(what: string, seconds: number, cpSeconds: number, cpName: string): void {
  const ratio = cpSeconds / seconds;
  process.stdout.write(
    `${what.padEnd(32)} ${seconds.toFixed(3).padStart(7)} s ${mbps(seconds)}   ${cpName.padEnd(10)} ${cpSeconds.toFixed(3).padStart(7)} s ${mbps(cpSeconds)}   ratio ${ratio.toFixed(2)} ${ratio >= 0.8 ? 'ok' : 'BELOW 0.8'}\n`,
  );
}

/** Read `file` in `chunk`-byte pieces through one buffer that is reused for every piece. */
async function* reusedBufferSource(file: string): AsyncGenerator<Buffer, void, undefined> {
  const fh = await open(file);
  const buf = Buffer.allocUnsafe(chunk);
  try {
    for (let at = 0; ; ) {
      const { bytesRead } = await fh.read(buf, 0, chunk, at);
      if (bytesRead === 0) return;
      at += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

async function makeSource(file: string): Promise<void> {
  const fh = await open(file, 'w');
  const buf = Buffer.allocUnsafe(16 * 1024 * 1024);
  for (let done = 0; done < size; ) {
    const n = Math.min(buf.length, size - done);
    randomFillSync(buf, 0, n);
    await fh.write(buf, 0, n);
    done += n;
  }
  await fh.close();
}

function benchMedia(): MediaTypeConfig {
  return { name: 'BENCH', capacityBytes: 2 * size + 1e9, rateBytesPerSec: null, loadMs: 0, unloadMs: 0, locateAvgMs: 0, rewindAvgMs: 0, blockSize };
}

/** A drive with a fresh labelled cartridge; rate unlimited, no positioning time. */
async function freshDrive(tapesDir: string, label: string, syncOnFilemark: boolean): Promise<{ drive: SimDrive; store: CartridgeStore }> {
  const mediaType = benchMedia();
  const store = new CartridgeStore(tapesDir, { syncOnFilemark });
  await store.create({ label, mediaType: mediaType.name, capacityBytes: mediaType.capacityBytes });
  const drive = new SimDrive({ name: 'bench', element: 1, mediaType, clock: new SystemClock(0), store });
  drive.insert(label);
  await drive.load();
  await writeLabel(drive, label);
  return { drive, store };
}

const dir = await mkdtemp(path.join(values.dir, 'tapestry-bench-'));
try {
  const src = path.join(dir, 'source.dat');
  await makeSource(src);
  process.stdout.write(`source ${size} bytes in ${dir}; block ${blockSize} B; source: ${values.source}, ${chunk}-byte chunks; median of ${runs}; node ${process.version}\n`);
  const out = (name: string): string => path.join(dir, name);
  const remove = async (...names: string[]): Promise<void> => {
    for (const n of names) await rm(out(n), { recursive: true, force: true });
  };
  const cpTo = (sync: boolean) => (): void => {
    execFileSync('cp', [src, out('cp.dat')]);
    if (sync) execFileSync('sync', [out('cp.dat')]);
  };
  const cp = await median(() => remove('cp.dat'), cpTo(false));
  const cpSync = await median(() => remove('cp.dat'), cpTo(true));
  await remove('cp.dat');

  // Writes: a fresh labelled cartridge per run (set up untimed); the timed part
  // is writeFile, including its filemark (and the fsync there when on).
  let crc = 0;
  const writeRuns = (syncOnFilemark: boolean) =>
    median(
      async () => {
        await remove('tapes');
        return freshDrive(out('tapes'), 'BENCH1', syncOnFilemark);
      },
      async ({ drive, store }) => {
        const source = values.source === 'stream' ? createReadStream(src, { highWaterMark: chunk }) : reusedBufferSource(src);
        const written: WriteFileResult = await writeFile(drive, { meta: { name: '/bench/source.dat' }, source, blockSize, expectedSize: size });
        crc = written.crc;
        await store.close();
      },
    );
  report('tape write, fsync at filemark', await writeRuns(true), cpSync, 'cp + sync');
  report('tape write, page cache', await writeRuns(false), cp, 'cp');

  // Reads: the cartridge of the last write run, read back to a destination file.
  const store = new CartridgeStore(out('tapes'));
  const drive = new SimDrive({ name: 'bench', element: 1, mediaType: benchMedia(), clock: new SystemClock(0), store });
  drive.insert('BENCH1');
  await drive.load();
  const dst = out('read.dat');
  const readTo = (durable: boolean) => async (): Promise<void> => {
    const fh = await open(dst, 'w');
    try {
      const reader = readFile(drive, 1, { expectedCrc: crc, expectedSize: size });
      for await (const data of reader) await fh.write(data);
      await reader.result;
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
  };
  report('tape read, to a file + fsync', await median(() => remove('read.dat'), readTo(true)), cpSync, 'cp + sync');
  report('tape read, page cache', await median(() => remove('read.dat'), readTo(false)), cp, 'cp');
  execFileSync('cmp', [src, dst]);
  await store.close();
  process.stdout.write(`check: read == source (cmp); adler32 ${crc.toString(16)}; rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
