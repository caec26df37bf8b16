/**
 * Whole-process throughput benchmark (issue 3, "Performance"): a real
 * `tapestry start` and the real `encp` binary against `cp` of the same files
 * on the same disk, in the same run.
 *
 *   npx tsx tools/bench/throughput.ts [--size 1GiB] [--runs 3] [--parallel 4]
 *                                     [--cache cold|warm] [--block-size 256KiB]
 *                                     [--cpu-prof DIR] [--encp FILE] [--keep]
 *
 * Installation: a copy of tapestry.yaml under os.tmpdir() (the same disk as
 * the source files; printed with `df`), with the media type at rate
 * `unlimited`, capacity 18TB, block 256KiB and `time_scale: 0` (load, locate,
 * robot moves cost nothing), plus two scheduling settings so the drives are
 * used as the benchmark means:
 *   - `mount_min_bytes: 1kB`: the example's CTA mount criteria (500 GB or
 *     10,000 files per extra mount) would never mount a second drive for four
 *     1 GiB files, and "four writes to four drives" is the point of (c);
 *   - `dismount_delay: 10min`: the tapes stay mounted between runs.
 * One family directory /exp/bench (width = --parallel). An untimed warm-up
 * writes --parallel small files in parallel so every drive holds a labelled,
 * mounted volume of the family: the timed steps measure steady-state
 * transfers (bound-volume reuse), not robot moves or labelling.
 *
 * Measured, each --runs times, alternating cp and encp:
 *   (a) write: `cp SRC DST`                  vs `encp SRC /exp/bench/F`
 *   (b) read:  `cp DST BACK` (the cp copy)   vs `encp /exp/bench/F BACK`
 *   (c) --parallel `cp` of different files at once vs --parallel `encp` writes at once.
 * Before every timed step, untimed: `sync` and, with --cache cold (the default
 * when /proc/sys/vm/drop_caches is writable), `echo 3 > drop_caches`, so both
 * sides read their source from disk; with --cache warm the sources are in the
 * page cache for both sides. Every timed step ends with a global `sync`, which
 * is INCLUDED in the time of both sides: encp's durability is built in (the
 * simulated cartridge fsyncs at the filemark, encp fsyncs a read file before
 * renaming it into place), so `cp` alone would compare a page-cache copy with
 * a durable one. The "without sync" columns are printed for information.
 * Figures are medians of --runs. MB = 10^6 bytes. CPU seconds: the cp/encp
 * processes (this process's reaped children) and the `tapestry start` process
 * (all its threads; PostgreSQL not included), from /proc.
 * --encp FILE runs another encp entry point than bin/encp.js (e.g. an esbuild
 * bundle of tools/encp/main.ts, to see what start-up through tsx costs).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../src/config/units.ts';
import {
  finishBench,
  dropCaches, encpRun, makeBenchInstallation, makeFamilyDir, makeRandomFile, markdownTable, median, MiB, readLog, startSystem, sync, timedRun, useEncpEntry, encpEntryPoint, type LogLine, type Timed,
} from './system-rig.ts';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1GiB' },
    runs: { type: 'string', default: '3' },
    parallel: { type: 'string', default: '4' },
    cache: { type: 'string' },
    'block-size': { type: 'string', default: '256KiB' },
    'cpu-prof': { type: 'string' },
    keep: { type: 'boolean', default: false },
    encp: { type: 'string' },
  },
});

const size = parseSize(values.size);
if (size === null || size <= 0) throw new Error(`--size: not a size: ${values.size}`);
const runs = Math.max(1, Number.parseInt(values.runs, 10) || 1);
const parallel = Math.max(1, Math.min(4, Number.parseInt(values.parallel, 10) || 4));
const cpuProf = values['cpu-prof'] ? path.resolve(values['cpu-prof']) : null;
if (values.encp) useEncpEntry(values.encp);

const out = (s: string): void => void process.stdout.write(s);
const mbps = (bytes: number, seconds: number): string => (bytes / 1e6 / seconds).toFixed(0);
const secs = (s: number): string => s.toFixed(2);

/** A timed step: wall time of the command(s), then the global sync, timed apart; CPU seconds used meanwhile. */
interface Step {
  readonly seconds: number;
  readonly syncSeconds: number;
  /** cp or encp processes (this process's reaped children: cutime + cstime). */
  readonly clientCpu: number;
  /** The `tapestry start` process, all threads (utime + stime); not PostgreSQL. */
  readonly serverCpu: number;
  /** Its main thread alone: the event loop every in-process mover, the library manager and the API share. */
  readonly serverMainCpu: number;
}

const TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim()) || 100;
/** utime, stime, cutime, cstime of a process, in seconds (/proc/PID/stat fields 14-17). */
function cpuTimes(pid: number | 'self' | `${number}/task/${number}`): [number, number, number, number] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  return [11, 12, 13, 14].map((i) => Number(f[i]) / TICKS) as [number, number, number, number];
}
const total = (s: Step): number => s.seconds + s.syncSeconds;

function timedSync(): number {
  const t0 = process.hrtime.bigint();
  sync();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function check(r: Timed, what: string): Timed {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
}

/** Run `fn` (which starts processes and resolves when they all exited) as one timed step. */
async function step(fn: () => Promise<unknown>): Promise<Step> {
  const main = `${sys.pid}/task/${sys.pid}` as const;
  const [, , cu0, cs0] = cpuTimes('self');
  const [su0, ss0] = cpuTimes(sys.pid);
  const [mu0, ms0] = cpuTimes(main);
  const t0 = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const [, , cu1, cs1] = cpuTimes('self');
  const [su1, ss1] = cpuTimes(sys.pid);
  const [mu1, ms1] = cpuTimes(main);
  return { seconds, syncSeconds: timedSync(), clientCpu: cu1 + cs1 - cu0 - cs0, serverCpu: su1 + ss1 - su0 - ss0, serverMainCpu: mu1 + ms1 - mu0 - ms0 };
}

// --- setup ---------------------------------------------------------------------------------

const canDrop = dropCaches();
const cache = values.cache ?? (canDrop ? 'cold' : 'warm');
if (cache !== 'cold' && cache !== 'warm') throw new Error('--cache: cold or warm');
if (cache === 'cold' && !canDrop) throw new Error('--cache cold: cannot write /proc/sys/vm/drop_caches (not root?); use --cache warm');
/** Untimed, before every timed step. */
const settle = (): void => {
  if (cache === 'cold') dropCaches();
  else sync();
};

const inst = await makeBenchInstallation({
  blockSize: values['block-size'],
  replace: [
    [/^    dismount_delay: .*$/m, '    dismount_delay: 10min'],
    [/^    mount_min_bytes: .*$/m, '    mount_min_bytes: 1kB'],
  ],
});
const work = path.join(inst.dir, 'work');
await mkdir(work);
const serverArgs = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(cpuProf, 'server')}`] : [];
const encpArgs = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(cpuProf, 'encp')}`] : [];
const sys = await startSystem(inst.configFile, serverArgs).catch(async (err: unknown) => {
  await inst.remove();
  throw err;
});
// Ctrl-C on the benchmark: stop Tapestry (its own process group) and remove the installation.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => void sys.stop().then(() => (values.keep ? undefined : inst.remove())).finally(() => process.exit(130)));
}
const env = sys.env;
const f = (name: string): string => path.join(work, name);

interface Breakdown { startToQueued: number; queuedToAssigned: number; mover: number; doneToExit: number }
const breakdowns: { write: Breakdown[]; read: Breakdown[] } = { write: [], read: [] };
const logFile = path.join(inst.dir, 'var', 'log', 'tapestry.log');
const logSize = async (): Promise<number> => (await stat(logFile).catch(() => ({ size: 0 }))).size;

/** encp's wall time split by the server log: spawn → lm.queued → lm.assign → mover.transfer_done → exit. */
function breakdown(lines: readonly LogLine[], startedAt: number, r: Timed): Breakdown | null {
  const ev = (name: string): LogLine | undefined => lines.find((l) => l.event === name);
  const q = ev('lm.queued');
  const a = ev('lm.assign');
  const d = ev('mover.transfer_done');
  if (!q || !a || !d) return null;
  const exitAt = startedAt + r.seconds * 1000;
  return { startToQueued: (q.t - startedAt) / 1000, queuedToAssigned: (a.t - q.t) / 1000, mover: (d.t - a.t) / 1000, doneToExit: (exitAt - d.t) / 1000 };
}

/** One encp; with `kind`, its phases from the server log (only meaningful when it runs alone). */
async function encpTimed(args: string[], kind: 'write' | 'read' | null): Promise<Timed> {
  const from = kind ? await logSize() : 0;
  const startedAt = Date.now();
  const r = check(await encpRun(args, env, encpArgs), `encp ${args.join(' ')}`);
  if (kind) {
    const b = breakdown(readLog(inst.dir, from).lines, startedAt, r);
    if (b) breakdowns[kind].push(b);
  }
  return r;
}

const cpRun = async (from: string, to: string): Promise<Timed> => check(await timedRun(['cp', from, to]), `cp ${from} ${to}`);

try {
  const sources = Array.from({ length: parallel }, (_, i) => f(`src-${i + 1}.dat`));
  for (const s of sources) await makeRandomFile(s, size);
  await makeFamilyDir(env, '/exp/bench', 'bench', parallel);

  // Warm-up (untimed): bring every drive a mounted, labelled volume of the family.
  // Round k runs k overlapping writes (up to 512 MiB each, so they overlap
  // despite encp's start-up time): k-1 go to the drives already holding a
  // volume (bound-volume reuse comes first), one makes a new mount. One fresh
  // mount per round keeps the warm-up deterministic; an earlier library manager
  // could give two fresh mounts the same volume (fixed: a volume is busy from
  // its assignment on). Any failure is still counted in warmupFailures.
  const warmSize = Math.min(size, 512 * MiB);
  const warm = Array.from({ length: parallel }, (_, i) => f(`warm-${i + 1}.dat`));
  for (const w of warm) await makeRandomFile(w, warmSize);
  const drivesWithVolume = (): Set<string> =>
    new Set(readLog(inst.dir).lines.filter((l) => l.event === 'mover.transfer_done' && l.kind === 'write').map((l) => String(l.mover)));
  let warmupFailures = 0;
  let warmFiles = 0;
  for (let k = 1, tries = 0; drivesWithVolume().size < parallel; tries++) {
    if (tries > 3 * parallel) throw new Error(`warm-up: only ${drivesWithVolume().size} of ${parallel} drives got a volume after ${tries} rounds (${warmupFailures} failed writes)`);
    const results = await Promise.all(warm.slice(0, k).map((w) => encpRun([w, `/exp/bench/warm-${++warmFiles}`], env)));
    warmupFailures += results.filter((r) => r.code !== 0).length;
    k = Math.min(parallel, drivesWithVolume().size + 1);
  }
  const movers = drivesWithVolume();
  for (const w of warm) await rm(w, { force: true });

  const df = execFileSync('df', ['-h', '--output=source,fstype,size,avail,target', work]).toString().trim().split('\n').at(-1);
  out(`# Throughput: encp vs cp\n\n`);
  out(`file ${size} bytes (${values.size}) x ${parallel} random files; block ${values['block-size']}; rate unlimited, time_scale 0; median of ${runs} runs\n`);
  out(`disk: ${df}; installation and sources in ${inst.dir}\n`);
  out(`host: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.version}, ${spawnSync('cp', ['--version']).stdout.toString().split('\n')[0]}\n`);
  out(`encp: node ${path.relative(process.cwd(), encpEntryPoint()) || encpEntryPoint()}\n`);
  out(`cache: ${cache === 'cold' ? 'COLD - sync + drop_caches before every timed step (sources read from disk)' : 'WARM - sync before every timed step, page cache not dropped (sources in memory)'}\n`);
  out(`sync: a global \`sync\` after each step is INCLUDED in both sides' times (encp is durable by itself: fsync at the filemark / before the rename)\n`);
  out(`warm-up (untimed): ${warmFiles} writes mounted volumes of the family on ${movers.size} drive(s) (${[...movers].sort().join(', ')})${warmupFailures > 0 ? `; ${warmupFailures} warm-up write(s) failed` : ''}\n\n`);

  /** Drives the library manager gave the parallel writes (lm.assign in the server log). */
  const parMovers = new Set<string>();
  const steps = { cpW: [] as Step[], encpW: [] as Step[], cpR: [] as Step[], encpR: [] as Step[], cpP: [] as Step[], encpP: [] as Step[] };
  for (let run = 1; run <= runs; run++) {
    const cpCopy = f(`cp-${run}.dat`);
    // (a) write
    settle();
    steps.cpW.push(await step(() => cpRun(sources[0]!, cpCopy)));
    settle();
    steps.encpW.push(await step(() => encpTimed([sources[0]!, `/exp/bench/w-${run}`], 'write')));
    // (b) read
    const cpBack = f(`cp-back-${run}.dat`);
    const encpBack = f(`encp-back-${run}.dat`);
    settle();
    steps.cpR.push(await step(() => cpRun(cpCopy, cpBack)));
    settle();
    steps.encpR.push(await step(() => encpTimed([`/exp/bench/w-${run}`, encpBack], 'read')));
    if (run === 1) execFileSync('cmp', [sources[0]!, encpBack]); // untimed: the bytes came back
    for (const x of [cpCopy, cpBack, encpBack]) await rm(x, { force: true });
    // (c) parallel writes
    const par = sources.map((_, i) => f(`cp-par-${run}-${i + 1}.dat`));
    settle();
    steps.cpP.push(await step(() => Promise.all(sources.map((s, i) => cpRun(s, par[i]!)))));
    for (const x of par) await rm(x, { force: true });
    settle();
    const from = await logSize();
    steps.encpP.push(await step(() => Promise.all(sources.map((s, i) => encpTimed([s, `/exp/bench/p-${run}-${i + 1}`], null)))));
    for (const l of readLog(inst.dir, from).lines) if (l.event === 'lm.assign') parMovers.add(String(l.mover));
    out(`run ${run}: write cp ${secs(total(steps.cpW.at(-1)!))} s / encp ${secs(total(steps.encpW.at(-1)!))} s; read cp ${secs(total(steps.cpR.at(-1)!))} s / encp ${secs(total(steps.encpR.at(-1)!))} s; ${parallel} parallel writes cp ${secs(total(steps.cpP.at(-1)!))} s / encp ${secs(total(steps.encpP.at(-1)!))} s\n`);
  }
  const med = (xs: Step[], withSync = true): number => median(xs.map((s) => (withSync ? total(s) : s.seconds)));
  const rows: string[][] = [];
  const row = (what: string, bytes: number, cp: Step[], encp: Step[]): void => {
    const c = med(cp);
    const e = med(encp);
    const ratio = c / e;
    rows.push([what, secs(c), mbps(bytes, c), secs(e), mbps(bytes, e), ratio.toFixed(2), ratio >= 0.8 ? 'ok' : 'below 0.8', `${secs(med(cp, false))} / ${secs(med(encp, false))}`]);
  };
  row(`(a) write ${values.size}`, size, steps.cpW, steps.encpW);
  row(`(b) read ${values.size}`, size, steps.cpR, steps.encpR);
  row(`(c) ${parallel} parallel writes, ${parallel} x ${values.size}`, parallel * size, steps.cpP, steps.encpP);
  out(`\n${markdownTable(
    ['step', 'cp + sync s', 'cp MB/s', 'encp + sync s', 'encp MB/s', 'ratio cp/encp', 'target >= 0.8', 'without sync: cp / encp s'],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'l', 'r'],
  )}\n`);
  const cpu = (xs: Step[], pick: (s: Step) => number): string => median(xs.map(pick)).toFixed(2);
  const cpuRow = (what: string, cp: Step[], encp: Step[]): string[] => {
    const busy = median(encp.map((s) => (s.clientCpu + s.serverCpu) / (s.seconds * os.cpus().length)));
    const mainBusy = median(encp.map((s) => s.serverMainCpu / s.seconds));
    return [what, cpu(cp, (s) => s.clientCpu), cpu(encp, (s) => s.clientCpu), cpu(encp, (s) => s.serverCpu), `${cpu(encp, (s) => s.serverMainCpu)} (${(mainBusy * 100).toFixed(0)} %)`, `${(busy * 100).toFixed(0)} %`];
  };
  out(`\nCPU seconds during the step (median; sync not included):\n\n${markdownTable(
    ['step', 'cp', 'encp processes', 'tapestry start', 'its main thread (% of wall)', `encp + server / (wall x ${os.cpus().length} CPUs)`],
    [cpuRow('(a) write', steps.cpW, steps.encpW), cpuRow('(b) read', steps.cpR, steps.encpR), cpuRow(`(c) ${parallel} parallel writes`, steps.cpP, steps.encpP)],
    ['l', 'r', 'r', 'r', 'r', 'r'],
  )}\n`);
  out(`\n(c) was served by ${parMovers.size} drive(s): ${[...parMovers].sort().join(', ')}\n`);

  const bRows = (['write', 'read'] as const).filter((k) => breakdowns[k].length > 0).map((k) => {
    const b = breakdowns[k];
    const m = (pick: (x: Breakdown) => number): string => secs(median(b.map(pick)));
    return [`encp ${k}`, m((x) => x.startToQueued), m((x) => x.queuedToAssigned), m((x) => x.mover), m((x) => x.doneToExit)];
  });
  out(`\nWhere one encp's wall time goes (server log, median s):\n\n${markdownTable(
    ['transfer', 'spawn -> lm.queued', 'queued -> lm.assign', 'assign -> mover.transfer_done', 'done -> encp exit'],
    bRows,
    ['l', 'r', 'r', 'r', 'r'],
  )}\n`);
} finally {
  await finishBench(sys, inst, { keep: values.keep, cpuProf }, out);
}
