/**
 * The scheduling benchmark's workload: a library of filled volumes and a list
 * of reads of random files, from a seeded generator so every run is the same.
 */
import type { ReadRequest } from '../../library-manager/types.ts';

/** mulberry32: small, fast, and good enough to draw a workload from a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface BenchVolume {
  readonly label: string;
  /** starts[n] = byte offset of file n on the tape (file 0 is the VOL1 label, 0 bytes here). */
  readonly starts: Float64Array;
  readonly sizes: Float64Array;
}

export interface WorkloadOptions {
  readonly seed: number;
  readonly volumes: number;
  readonly filesPerVolume: readonly [number, number];
  readonly fileBytes: readonly [number, number];
  readonly capacityBytes: number;
  readonly reads: number;
  /** Poisson arrivals at this many reads per second; undefined = all queued at t = 0. */
  readonly arrivalsPerSec?: number;
}

export interface Workload {
  readonly volumes: ReadonlyMap<string, BenchVolume>;
  /** In arrival order; `queuedAt` is ms from the start of the run. */
  readonly reads: readonly ReadRequest[];
}

export function makeWorkload(o: WorkloadOptions): Workload {
  const rnd = seededRandom(o.seed);
  const between = (lo: number, hi: number): number => lo + rnd() * (hi - lo);
  const volumes = new Map<string, BenchVolume>();
  const files: [string, number][] = [];
  for (let v = 1; v <= o.volumes; v++) {
    const label = `BV${String(v).padStart(4, '0')}L9`;
    const wanted = Math.round(between(o.filesPerVolume[0], o.filesPerVolume[1]));
    const sizes = [0];
    let used = 0;
    for (let n = 1; n <= wanted; n++) {
      const size = Math.round(between(o.fileBytes[0], o.fileBytes[1]));
      if (used + size > o.capacityBytes) break;
      sizes.push(size);
      used += size;
      files.push([label, n]);
    }
    const starts = new Float64Array(sizes.length);
    for (let n = 1; n < sizes.length; n++) starts[n] = starts[n - 1]! + sizes[n - 1]!;
    volumes.set(label, { label, starts, sizes: Float64Array.from(sizes) });
  }
  if (o.reads > files.length) throw new RangeError(`${o.reads} reads of distinct files, but only ${files.length} files`);
  // A partial Fisher–Yates shuffle: the first `reads` entries are distinct random files.
  for (let i = 0; i < o.reads; i++) {
    const j = i + Math.floor(rnd() * (files.length - i));
    [files[i], files[j]] = [files[j]!, files[i]!];
  }
  let t = 0;
  const reads = files.slice(0, o.reads).map(([label, fileNo], i): ReadRequest => {
    if (o.arrivalsPerSec !== undefined) t += (-Math.log(1 - rnd()) / o.arrivalsPerSec) * 1000;
    const size = volumes.get(label)!.sizes[fileNo]!;
    const id = String(i + 1);
    return { id, uniqueId: `bench-${id}`, kind: 'read', state: 'queued', priority: 1, admin: false, queuedAt: t, size, storageGroup: 'exp', volumeLabel: label, fileNo };
  });
  return { volumes, reads };
}
