/**
 * Small-files benchmark (issue 3, "Performance"): --files (1000) files of
 * --size (1 MiB) written with the real `encp` into a real `tapestry start`:
 *   A. one encp with all the files as sources and a namespace directory as destination;
 *   B. --parallel (10) encp processes at once, each with files/parallel sources.
 * Reported: files per second, and where the time goes.
 *
 *   npx tsx tools/bench/small-files.ts [--files 1000] [--size 1MiB] [--parallel 10]
 *                                      [--width 1] [--runs 1] [--cpu-prof DIR] [--encp FILE] [--keep]
 *
 * Installation as in throughput.ts (rate unlimited, time_scale 0, block
 * 256KiB, mount_min_bytes 1kB, dismount_delay 10min); the family directory has
 * file_family_width --width (1: one drive takes every file, so its cycle per
 * file is what limits files/s). An untimed warm-up write mounts the volume.
 * Page cache warm (the sources were just written); nothing is dropped.
 *
 * Where the time goes, from the server's JSON-lines log
 * (<installation>/var/log/tapestry.log), per file (write):
 *   queue wait    lm.queued → lm.assign
 *   connect       lm.assign → mover.data_open (the tape is mounted already; the
 *                 mover connects to encp's callback, which claims it once its
 *                 long poll has seen the assignment)
 *   data+filemark mover.data_open → mover.data_written (the bytes in blocks, the
 *                 filemark with its fsyncs)
 *   trailer+position  → file.positioned (encp's CRC, the position row)
 *   registration  file.positioned → mover.transfer_done (end of data, activate)
 *   drive gap     mover.transfer_done → the next lm.assign to that mover
 * and per scenario: encp spawn → the first lm.queued (process start, plan,
 * submission) and the last transfer_done → the last encp exit.
 */
import { randomFillSync } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../src/config/units.ts';
import { finishBench, encpEntryPoint, encpRun, makeBenchInstallation, makeFamilyDir, markdownTable, mean, readLog, startSystem, useEncpEntry, type LogLine, type Timed } from './system-rig.ts';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '1000' },
    size: { type: 'string', default: '1MiB' },
    parallel: { type: 'string', default: '10' },
    width: { type: 'string', default: '1' },
    runs: { type: 'string', default: '1' },
    'cpu-prof': { type: 'string' },
    keep: { type: 'boolean', default: false },
    encp: { type: 'string' },
  },
});
const nFiles = Math.max(1, Number.parseInt(values.files, 10) || 1000);
const size = parseSize(values.size);
if (size === null) throw new Error(`--size: not a size: ${values.size}`);
const nParallel = Math.max(1, Math.min(nFiles, Number.parseInt(values.parallel, 10) || 10));
const width = Math.max(1, Number.parseInt(values.width, 10) || 1);
const runs = Math.max(1, Number.parseInt(values.runs, 10) || 1);
const cpuProf = values['cpu-prof'] ? path.resolve(values['cpu-prof']) : null;
if (values.encp) useEncpEntry(values.encp);
const out = (s: string): void => void process.stdout.write(s);

interface FilePhases {
  queueWait: number; connect: number; data: number; position: number; registration: number; driveGap: number | null;
}

interface ScenarioResult {
  name: string;
  wall: number;
  filesPerSec: number;
  perFile: FilePhases[];
  /** First encp spawn → first lm.queued (s): process start, plan, submission. */
  toFirstQueued: number;
  /** First encp spawn → first lm.assign (s). */
  toFirstAssign: number;
  /** Last mover.transfer_done → last encp exit (s). */
  tail: number;
  drives: number;
  failed: number;
}

function analyse(name: string, lines: LogLine[], spawnAt: number, endAt: number, results: Timed[]): ScenarioResult {
  const byReq = new Map<string, { queued?: number; assign?: number; mover?: string; open?: number; written?: number; bfid?: string; done?: number }>();
  const positioned = new Map<string, number>();
  const assignsByMover = new Map<string, number[]>();
  for (const l of lines) {
    const id = l.requestId === undefined ? undefined : String(l.requestId);
    if (l.event === 'file.positioned') positioned.set(String(l.bfid), l.t);
    if (!id) continue;
    const r = byReq.get(id) ?? {};
    byReq.set(id, r);
    if (l.event === 'lm.queued') r.queued = l.t;
    else if (l.event === 'lm.assign') {
      r.assign = l.t;
      r.mover = String(l.mover);
      const a = assignsByMover.get(r.mover) ?? [];
      a.push(l.t);
      assignsByMover.set(r.mover, a);
    } else if (l.event === 'mover.data_open') r.open = l.t;
    else if (l.event === 'mover.data_written') r.written = l.t;
    else if (l.event === 'mover.transfer_done' && l.kind === 'write') {
      r.done = l.t;
      r.bfid = String(l.bfid);
    }
  }
  const perFile: FilePhases[] = [];
  for (const r of byReq.values()) {
    const pos = r.bfid ? positioned.get(r.bfid) : undefined;
    if (r.queued === undefined || r.assign === undefined || r.open === undefined || r.written === undefined || r.done === undefined || pos === undefined) continue;
    const later = (assignsByMover.get(r.mover!) ?? []).filter((t) => t >= r.done!).sort((a, b) => a - b)[0];
    perFile.push({
      queueWait: r.assign - r.queued,
      connect: r.open - r.assign,
      data: r.written - r.open,
      position: pos - r.written,
      registration: r.done - pos,
      driveGap: later === undefined ? null : later - r.done,
    });
  }
  const assigns = lines.filter((l) => l.event === 'lm.assign').map((l) => l.t);
  const dones = lines.filter((l) => l.event === 'mover.transfer_done').map((l) => l.t);
  const ok = results.filter((r) => r.code === 0).length;
  return {
    name,
    wall: (endAt - spawnAt) / 1000,
    filesPerSec: nFiles / ((endAt - spawnAt) / 1000),
    perFile,
    toFirstQueued: (Math.min(...lines.filter((l) => l.event === 'lm.queued').map((l) => l.t)) - spawnAt) / 1000,
    toFirstAssign: (Math.min(...assigns) - spawnAt) / 1000,
    tail: (endAt - Math.max(...dones)) / 1000,
    drives: assignsByMover.size,
    failed: results.length - ok,
  };
}

// --- run -------------------------------------------------------------------------------------

const inst = await makeBenchInstallation({
  replace: [
    [/^    dismount_delay: .*$/m, '    dismount_delay: 10min'],
    [/^    mount_min_bytes: .*$/m, '    mount_min_bytes: 1kB'],
  ],
});
const encpNodeArgs = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(cpuProf, 'encp')}`] : [];
const sys = await startSystem(inst.configFile, cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(cpuProf, 'server')}`] : []).catch(async (err: unknown) => {
  await inst.remove();
  throw err;
});
// Ctrl-C on the benchmark: stop Tapestry (its own process group) and remove the installation.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => void sys.stop().then(() => (values.keep ? undefined : inst.remove())).finally(() => process.exit(130)));
}
const work = path.join(inst.dir, 'work');

async function makeSources(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const buf = Buffer.allocUnsafe(size!);
  const names: string[] = [];
  for (let i = 0; i < nFiles; i++) {
    const f = path.join(dir, `f${String(i).padStart(5, '0')}.dat`);
    randomFillSync(buf);
    const fh = await open(f, 'w');
    await fh.write(buf);
    await fh.close();
    names.push(f);
  }
  return names;
}

async function scenario(name: string, nsDir: string, groups: string[][]): Promise<ScenarioResult> {
  await makeFamilyDir(sys.env, nsDir, 'small', width);
  const from = readLog(inst.dir).length;
  const spawnAt = Date.now();
  const results = await Promise.all(groups.map((g) => encpRun([...g, nsDir], sys.env, encpNodeArgs)));
  const endAt = Date.now();
  for (const r of results) if (r.code !== 0) out(`encp exited ${r.code}: ${r.stderr.slice(0, 500)}\n`);
  return analyse(name, readLog(inst.dir, from).lines, spawnAt, endAt, results);
}

const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');

try {
  const sources = await makeSources(path.join(work, 'src'));
  // Warm-up (untimed): mount and label a volume of the family.
  await makeFamilyDir(sys.env, '/exp/small', 'small', width);
  const warmUp = await encpRun([sources[0]!, '/exp/small/warm-up'], sys.env);
  if (warmUp.code !== 0) throw new Error(`warm-up encp failed: ${warmUp.stderr}`);

  out(`# Small files: ${nFiles} x ${values.size} written with encp\n\n`);
  out(`family width ${width}; block 256KiB; rate unlimited, time_scale 0; page cache warm; ${runs} run(s)\n`);
  out(`encp: node ${path.relative(process.cwd(), encpEntryPoint()) || encpEntryPoint()}\n`);
  out(`host: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), node ${process.version}; installation ${inst.dir}\n\n`);

  const all: ScenarioResult[] = [];
  for (let run = 1; run <= runs; run++) {
    all.push(await scenario(`A. 1 encp x ${nFiles} files`, `/exp/small/a${run}`, [sources]));
    const per = Math.ceil(nFiles / nParallel);
    const groups = Array.from({ length: nParallel }, (_, i) => sources.slice(i * per, (i + 1) * per)).filter((g) => g.length > 0);
    all.push(await scenario(`B. ${groups.length} encp x ${per} files in parallel`, `/exp/small/b${run}`, groups));
  }

  out(markdownTable(
    ['scenario', 'wall s', 'files/s', 'MB/s', 'drives', 'failed encp', 'files with all phases'],
    all.map((r) => [r.name, r.wall.toFixed(2), r.filesPerSec.toFixed(1), ((nFiles * size) / 1e6 / r.wall).toFixed(1), String(r.drives), String(r.failed), String(r.perFile.length)]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
  ) + '\n\n');

  // Per-file latency phases (mean ms): concurrent files overlap, so these do not add up to the wall time.
  const phaseRows: [string, (p: FilePhases) => number | null][] = [
    ['queue wait (queued -> assign)', (p) => p.queueWait],
    ['connect (assign -> mover.data_open)', (p) => p.connect],
    ['data + filemark (-> mover.data_written)', (p) => p.data],
    ['trailer + position row (-> file.positioned)', (p) => p.position],
    ['registration (-> transfer_done)', (p) => p.registration],
    ['drive gap (done -> next assign)', (p) => p.driveGap],
  ];
  const col = (r: ScenarioResult, pick: (p: FilePhases) => number | null): string => ms(mean(r.perFile.map(pick).filter((x): x is number => x !== null && Number.isFinite(x))));
  out('Per file, mean ms (latencies; the files overlap, so they do not add up to the wall time):\n\n');
  out(markdownTable(['phase', ...all.map((r) => r.name)], phaseRows.map(([label, pick]) => [label, ...all.map((r) => col(r, pick))]), ['l', ...all.map(() => 'r' as const)]) + '\n\n');

  // Wall clock: one drive (width 1) serialises the transfers, so the run is
  // start-up + the drive's cycles + the tail; per file = total / files.
  out('Wall clock, split (s, and ms per file = s / files):\n\n');
  const wallRows = all.map((r) => {
    const cyc = (pick: (p: FilePhases) => number | null): number => r.perFile.map(pick).filter((x): x is number => x !== null && Number.isFinite(x)).reduce((a, b) => a + b, 0) / 1000 / Math.max(1, r.drives);
    const connect = cyc((p) => p.connect);
    const data = cyc((p) => p.data + p.position);
    const reg = cyc((p) => p.registration);
    const gap = cyc((p) => p.driveGap);
    const perFileMs = (s: number): string => `${s.toFixed(2)} (${((s * 1000) / nFiles).toFixed(1)})`;
    return [r.name, r.wall.toFixed(2), r.toFirstQueued.toFixed(2), perFileMs(r.toFirstAssign), perFileMs(connect), perFileMs(data), perFileMs(reg), perFileMs(gap), perFileMs(r.tail)];
  });
  out(markdownTable(
    ['scenario', 'wall', 'spawn -> first queued', 'spawn -> first assign', 'connect', 'data + filemark + position', 'registration', 'drive gap', 'last done -> exit'],
    wallRows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  ) + '\n');
  out(`\n(drive columns are summed over the files and divided by the number of drives used; with width 1 the columns from "spawn -> first assign" on add up to about the wall time)\n`);
} finally {
  await finishBench(sys, inst, { keep: values.keep, cpuProf }, out);
}
