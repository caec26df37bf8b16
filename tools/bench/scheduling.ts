/**
 * Scheduling benchmark (issue 3, DESIGN §9): `npx tsx tools/bench/scheduling.ts`
 * (or `npm run bench:scheduling`).
 *
 * A discrete-event simulation on a VirtualClock (scheduling-sim.ts) of one
 * library: 4 LTO-9 drives (18 TB, 400 MB/s, load 16 s, unload 56 s, locate
 * avg 65 s, rewind avg 62 s; hardware-sim/drive-timing.ts), one robot
 * accessor (5 s a move), 100 volumes of 200–800 files of 1–20 GB, and 10,000
 * reads of distinct random files, either all queued at t = 0 (batch) or
 * arriving as a Poisson stream. Each workload is served by:
 *   - tapestry: library-manager/scheduler.ts with DEFAULT_SCHEDULER_CONFIG;
 *   - tapestry+cta: the same with CTA-style mount criteria (500 GB or 10,000 files, or 2 h of age);
 *   - enstore:  the same core with ENSTORE_SCHEDULER_CONFIG (keys by age, tape kept for the dismount delay);
 *   - fifo:     library-manager/fifo.ts (arrival order, dismount on every volume change).
 *
 * Makespan: from t = 0 until every read is done and every tape is back in its slot.
 * Latency: completion − arrival, per read.
 * Lower bound (LB), for the batch:
 *     LB = total bytes / (drives × rate) + distinct volumes × (robot move + load + unload) / drives
 * Every byte must stream through some drive, and every distinct volume must be
 * moved into a drive, loaded and unloaded at least once, each occupying one of
 * the drives; so no schedule finishes sooner. (It leaves out locates, rewinds
 * and the move back to the slot, so it is optimistic.) With Poisson arrivals
 * the LB is the larger of that and (last arrival + its transfer + one unload);
 * latency is the figure to compare there.
 *
 * Targets (issue 3), batch: mounts = distinct volumes; makespan ≤ 1.15 × LB;
 * makespan at least 5× better than FIFO.
 */
import type { TimingModel } from '../../hardware-sim/drive-timing.ts';
import { fifoPolicy } from '../../library-manager/fifo.ts';
import { decide } from '../../library-manager/scheduler.ts';
import { DEFAULT_SCHEDULER_CONFIG, ENSTORE_SCHEDULER_CONFIG, type Policy, type SchedulerConfig } from '../../library-manager/types.ts';
import { simulate, type SimResult } from './scheduling-sim.ts';
import { makeWorkload, type Workload, type WorkloadOptions } from './scheduling-workload.ts';

const LTO9: TimingModel = { capacityBytes: 18e12, rateBytesPerSec: 400e6, loadMs: 16_000, unloadMs: 56_000, locateAvgMs: 65_000, rewindAvgMs: 62_000 };
const DRIVES = 4;
const ROBOT_MOVE_MS = 5_000;
const RATE = LTO9.rateBytesPerSec!;

const BASE: WorkloadOptions = {
  seed: 20260101,
  volumes: 100,
  filesPerVolume: [200, 800],
  fileBytes: [1e9, 20e9],
  capacityBytes: LTO9.capacityBytes,
  reads: 10_000,
};
const MEAN_FILE_BYTES = (BASE.fileBytes[0] + BASE.fileBytes[1]) / 2;
/** Poisson: reads arrive at 70 % of what the drives can stream. */
const POISSON_RATE = (0.7 * DRIVES * RATE) / MEAN_FILE_BYTES;

const POLICIES: readonly { name: string; policy: Policy; config: SchedulerConfig }[] = [
  { name: 'tapestry', policy: decide, config: DEFAULT_SCHEDULER_CONFIG },
  { name: 'tapestry+cta', policy: decide, config: { ...DEFAULT_SCHEDULER_CONFIG, mountCriteria: { minBytes: 500e9, minFiles: 10_000, maxAgeMs: 2 * 3_600_000 } } },
  { name: 'enstore', policy: decide, config: ENSTORE_SCHEDULER_CONFIG },
  { name: 'fifo', policy: fifoPolicy, config: DEFAULT_SCHEDULER_CONFIG },
];

function lowerBound(w: Workload): { ms: number; distinct: number; bytes: number } {
  const bytes = w.reads.reduce((s, r) => s + r.size, 0);
  const distinct = new Set(w.reads.map((r) => r.volumeLabel)).size;
  const perMount = ROBOT_MOVE_MS + LTO9.loadMs + LTO9.unloadMs;
  const work = (bytes / (DRIVES * RATE)) * 1000 + (distinct * perMount) / DRIVES;
  // The last read to arrive must still be transferred, and its tape unloaded.
  const last = w.reads.at(-1)!;
  return { ms: Math.max(work, last.queuedAt + (last.size / RATE) * 1000 + LTO9.unloadMs), distinct, bytes };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
}

const hours = (ms: number): string => (ms / 3_600_000).toFixed(2);

interface Row {
  readonly name: string;
  readonly r: SimResult;
  readonly wallMs: number;
}

function table(title: string, lb: ReturnType<typeof lowerBound>, rows: readonly Row[]): void {
  const fifo = rows.find((x) => x.name === 'fifo')!.r.makespanMs;
  console.log(`\n${title}: ${lb.distinct} distinct volumes, ${(lb.bytes / 1e12).toFixed(2)} TB, LB = ${hours(lb.ms)} h`);
  const head = ['policy', 'mounts', 'makespan h', '× LB', 'FIFO ×', 'mean lat h', 'p95 lat h', 'decisions', 'wall s'];
  const lines = rows.map(({ name, r, wallMs }) => {
    const lat = Float64Array.from(r.latenciesMs).sort();
    const mean = lat.reduce((s, x) => s + x, 0) / lat.length;
    return [
      name,
      String(r.mounts),
      hours(r.makespanMs),
      (r.makespanMs / lb.ms).toFixed(3),
      (fifo / r.makespanMs).toFixed(2),
      hours(mean),
      hours(percentile(lat, 0.95)),
      String(r.decisions),
      (wallMs / 1000).toFixed(1),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(fmt(head));
  for (const l of lines) console.log(fmt(l));
}

async function runAll(w: Workload): Promise<Row[]> {
  const rows: Row[] = [];
  for (const p of POLICIES) {
    const t0 = performance.now();
    const r = await simulate(w, { drives: DRIVES, media: LTO9, robotMoveMs: ROBOT_MOVE_MS, policy: p.policy, config: p.config });
    rows.push({ name: p.name, r, wallMs: performance.now() - t0 });
  }
  return rows;
}

async function main(): Promise<void> {
  const started = performance.now();
  console.log(`Scheduling benchmark: ${DRIVES} LTO-9 drives, ${BASE.volumes} volumes, ${BASE.reads} reads, seed ${BASE.seed}`);
  console.log('LB = total bytes / (drives × rate) + distinct volumes × (robot move + load + unload) / drives');
  console.log('     (Poisson: at least the last arrival + its transfer + one unload)');

  const batch = makeWorkload(BASE);
  const batchLb = lowerBound(batch);
  const batchRows = await runAll(batch);
  table('Batch (all reads queued at t = 0)', batchLb, batchRows);

  const poisson = makeWorkload({ ...BASE, arrivalsPerSec: POISSON_RATE });
  const lastArrival = poisson.reads.at(-1)!.queuedAt;
  table(`Poisson arrivals (${POISSON_RATE.toFixed(4)}/s, 70 % of drive bandwidth; last arrival at ${hours(lastArrival)} h)`, lowerBound(poisson), await runAll(poisson));

  const t = batchRows.find((x) => x.name === 'tapestry')!.r;
  const fifo = batchRows.find((x) => x.name === 'fifo')!.r;
  const checks: [string, boolean][] = [
    [`mounts = distinct volumes (${t.mounts} = ${batchLb.distinct})`, t.mounts === batchLb.distinct],
    [`makespan ≤ 1.15 × LB (${(t.makespanMs / batchLb.ms).toFixed(3)})`, t.makespanMs <= 1.15 * batchLb.ms],
    [`≥ 5× better than FIFO (${(fifo.makespanMs / t.makespanMs).toFixed(2)}×)`, fifo.makespanMs >= 5 * t.makespanMs],
  ];
  console.log('\nTargets (batch, tapestry):');
  for (const [what, ok] of checks) console.log(`  ${ok ? 'PASS' : 'FAIL'}  ${what}`);
  console.log(`\nwall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (checks.some(([, ok]) => !ok)) process.exitCode = 1;
}

await main();
