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
 * Where the time goes, from two clocks on one host:
 *  - the server's JSON-lines log (<installation>/var/log/tapestry.log):
 *    lm.queued, lm.assign, file.positioned, file.active, mover.transfer_done;
 *  - a trace of each encp process: a module preloaded with `node --import`
 *    (written to the installation dir at run time, encp itself unchanged) that
 *    timestamps every fetch() (the REST calls) and every net.connect (the data
 *    channel: connected, closed), and the process's time origin.
 * Per file (write):
 *   submit        POST /requests round trip (file row + queue row)
 *   queue wait    lm.queued → lm.assign
 *   notify        lm.assign → encp's long poll returns the assignment
 *   connect       → data channel connected to the mover
 *   data+filemark → file.positioned (header, bytes, blocks, filemark + 2 fdatasyncs, trailer, position row in the DB)
 *   registration  file.positioned → mover.transfer_done (end of data, activate)
 *   result        mover.transfer_done → encp sees the data channel close
 *   drive gap     mover.transfer_done → the next lm.assign to that mover
 */
import { randomFillSync } from 'node:crypto';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parseSize } from '../../src/config/units.ts';
import { encpEntryPoint, encpRun, makeBenchInstallation, makeFamilyDir, markdownTable, mean, readLog, startSystem, useEncpEntry, type LogLine, type Timed } from './system-rig.ts';

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

/** Preloaded into every encp (`node --import`): timestamps of fetch() and net.connect, written at exit. */
const TRACE_MODULE = `
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
const require = createRequire(import.meta.url);
const net = require('node:net');
const dir = process.env.ENCP_TRACE_DIR;
const now = () => performance.timeOrigin + performance.now();
const ev = [{ k: 'start', t: performance.timeOrigin }];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = new URL(String(input));
  const e = { k: 'http', m: (init && init.method) || 'GET', p: url.pathname, t0: now() };
  ev.push(e);
  const res = await realFetch(input, init);
  e.t1 = now();
  e.s = res.status;
  if (/\\/requests(\\/\\d+)?$/.test(url.pathname)) {
    res.clone().json().then((b) => { e.id = b.requestId; e.state = b.state; e.addr = b.assignment ? b.assignment.dataAddress : undefined; }, () => {});
  }
  return res;
};
const realConnect = net.connect;
net.connect = function (...args) {
  const s = realConnect.apply(this, args);
  const o = args[0];
  const e = { k: 'connect', port: o && typeof o === 'object' ? Number(o.port) : Number(o), t0: now() };
  ev.push(e);
  s.once('connect', () => { e.t1 = now(); });
  s.once('close', () => { e.t2 = now(); });
  return s;
};
process.on('exit', () => { if (dir) writeFileSync(dir + '/encp-' + process.pid + '.json', JSON.stringify(ev)); });
`;

interface HttpEv { k: 'http'; m: string; p: string; t0: number; t1?: number; s?: number; id?: number; state?: string; addr?: string }
interface ConnectEv { k: 'connect'; port: number; t0: number; t1?: number; t2?: number }
type TraceEv = { k: 'start'; t: number } | HttpEv | ConnectEv;
interface Trace { start: number; http: HttpEv[]; connects: ConnectEv[] }

function readTraces(dir: string): Trace[] {
  return readdirSync(dir).filter((n) => n.endsWith('.json')).map((n) => {
    const ev = JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as TraceEv[];
    const start = ev.find((e) => e.k === 'start') as { t: number } | undefined;
    return {
      start: start?.t ?? NaN,
      http: ev.filter((e): e is HttpEv => e.k === 'http'),
      connects: ev.filter((e): e is ConnectEv => e.k === 'connect'),
    };
  });
}

interface FilePhases {
  submit: number; queueWait: number; notify: number; connect: number; data: number; registration: number; result: number; driveGap: number | null;
}

interface ScenarioResult {
  name: string;
  wall: number;
  filesPerSec: number;
  perFile: FilePhases[];
  /** Per-encp costs before its first submit (s): process start → first HTTP request, first HTTP → first submit. */
  startup: number[];
  plan: number[];
  /** First encp spawn → first lm.assign (s). */
  toFirstAssign: number;
  /** Last mover.transfer_done → last encp exit (s). */
  tail: number;
  drives: number;
  failed: number;
}

function analyse(name: string, lines: LogLine[], traces: Trace[], spawnAt: number, endAt: number, results: Timed[], httpPort: number): ScenarioResult {
  const byReq = new Map<string, { queued?: number; assign?: number; mover?: string; bfid?: string; done?: number }>();
  const byBfid = new Map<string, { positioned?: number; active?: number }>();
  const assignsByMover = new Map<string, number[]>();
  for (const l of lines) {
    const id = l.requestId === undefined ? undefined : String(l.requestId);
    if (l.event === 'lm.queued' && id) byReq.set(id, { ...byReq.get(id), queued: l.t });
    else if (l.event === 'lm.assign' && id) {
      byReq.set(id, { ...byReq.get(id), assign: l.t, mover: String(l.mover) });
      const a = assignsByMover.get(String(l.mover)) ?? [];
      a.push(l.t);
      assignsByMover.set(String(l.mover), a);
    } else if (l.event === 'mover.transfer_done' && id && l.kind === 'write') byReq.set(id, { ...byReq.get(id), done: l.t, bfid: String(l.bfid) });
    else if (l.event === 'file.positioned') byBfid.set(String(l.bfid), { ...byBfid.get(String(l.bfid)), positioned: l.t });
    else if (l.event === 'file.active') byBfid.set(String(l.bfid), { ...byBfid.get(String(l.bfid)), active: l.t });
  }
  const perFile: FilePhases[] = [];
  const startup: number[] = [];
  const plan: number[] = [];
  for (const tr of traces) {
    const first = tr.http[0];
    const firstSubmit = tr.http.find((h) => h.m === 'POST' && h.p.endsWith('/requests'));
    if (first) startup.push((first.t0 - tr.start) / 1000);
    if (first && firstSubmit) plan.push((firstSubmit.t0 - first.t0) / 1000);
    const dataConnects = tr.connects.filter((c) => c.port !== httpPort && c.t1 !== undefined).sort((a, b) => a.t0 - b.t0);
    const used = new Set<ConnectEv>();
    for (const post of tr.http.filter((h) => h.m === 'POST' && h.p.endsWith('/requests') && h.id !== undefined)) {
      const id = String(post.id);
      const s = byReq.get(id);
      if (!s?.queued || !s.assign || !s.done || !s.bfid) continue;
      const f = byBfid.get(s.bfid);
      if (!f?.positioned) continue;
      const poll = tr.http.filter((h) => h.p.endsWith(`/requests/${id}`) && h.addr !== undefined && h.t1 !== undefined).sort((a, b) => a.t1! - b.t1!)[0];
      if (!poll) continue;
      const port = Number(poll.addr!.slice(poll.addr!.lastIndexOf(':') + 1));
      const conn = dataConnects.find((c) => !used.has(c) && c.port === port && c.t0 >= poll.t1! - 1);
      if (!conn) continue;
      used.add(conn);
      const later = (assignsByMover.get(s.mover!) ?? []).filter((t) => t >= s.done!).sort((a, b) => a - b)[0];
      perFile.push({
        submit: post.t1! - post.t0,
        queueWait: s.assign - s.queued,
        notify: poll.t1! - s.assign,
        connect: conn.t1! - poll.t1!,
        data: f.positioned - conn.t1!,
        registration: s.done - f.positioned,
        result: (conn.t2 ?? NaN) - s.done,
        driveGap: later === undefined ? null : later - s.done,
      });
    }
  }
  const assigns = lines.filter((l) => l.event === 'lm.assign').map((l) => l.t);
  const dones = lines.filter((l) => l.event === 'mover.transfer_done').map((l) => l.t);
  const ok = results.filter((r) => r.code === 0).length;
  return {
    name,
    wall: (endAt - spawnAt) / 1000,
    filesPerSec: nFiles / ((endAt - spawnAt) / 1000),
    perFile,
    startup,
    plan,
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
const tracePath = path.join(inst.dir, 'encp-trace.mjs');
await writeFile(tracePath, TRACE_MODULE);
const encpNodeArgs = (traceDir: string): { args: string[]; env: NodeJS.ProcessEnv } => ({
  args: ['--import', pathToFileURL(tracePath).href, ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(cpuProf, 'encp')}`] : [])],
  env: { ENCP_TRACE_DIR: traceDir },
});
const sys = await startSystem(inst.configFile, cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(cpuProf, 'server')}`] : []).catch(async (err: unknown) => {
  await inst.remove();
  throw err;
});
const httpPort = Number(new URL(sys.url).port);
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

async function scenario(name: string, nsDir: string, groups: string[][], traceDir: string): Promise<ScenarioResult> {
  await mkdir(traceDir, { recursive: true });
  await makeFamilyDir(sys.env, nsDir, 'small', width);
  const from = readLog(inst.dir).length;
  const { args, env } = encpNodeArgs(traceDir);
  const spawnAt = Date.now();
  const results = await Promise.all(groups.map((g) => encpRun([...g, nsDir], { ...sys.env, ...env }, args)));
  const endAt = Date.now();
  for (const r of results) if (r.code !== 0) out(`encp exited ${r.code}: ${r.stderr.slice(0, 500)}\n`);
  return analyse(name, readLog(inst.dir, from).lines, readTraces(traceDir), spawnAt, endAt, results, httpPort);
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
    all.push(await scenario(`A. 1 encp x ${nFiles} files`, `/exp/small/a${run}`, [sources], path.join(work, `trace-a${run}`)));
    const per = Math.ceil(nFiles / nParallel);
    const groups = Array.from({ length: nParallel }, (_, i) => sources.slice(i * per, (i + 1) * per)).filter((g) => g.length > 0);
    all.push(await scenario(`B. ${groups.length} encp x ${per} files in parallel`, `/exp/small/b${run}`, groups, path.join(work, `trace-b${run}`)));
  }

  out(markdownTable(
    ['scenario', 'wall s', 'files/s', 'MB/s', 'drives', 'failed encp', 'files traced'],
    all.map((r) => [r.name, r.wall.toFixed(2), r.filesPerSec.toFixed(1), ((nFiles * size) / 1e6 / r.wall).toFixed(1), String(r.drives), String(r.failed), String(r.perFile.length)]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
  ) + '\n\n');

  // Per-file latency phases (mean ms): concurrent files overlap, so these do not add up to the wall time.
  const phaseRows: [string, (p: FilePhases) => number | null][] = [
    ['submit (POST /requests)', (p) => p.submit],
    ['queue wait (queued -> assign)', (p) => p.queueWait],
    ['notify (assign -> long poll returns)', (p) => p.notify],
    ['connect (-> data channel open)', (p) => p.connect],
    ['data + filemark + position row (-> file.positioned)', (p) => p.data],
    ['registration (-> transfer_done)', (p) => p.registration],
    ['result (-> encp sees close)', (p) => p.result],
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
    const notifyConnect = cyc((p) => p.notify + p.connect);
    const data = cyc((p) => p.data);
    const reg = cyc((p) => p.registration);
    const gap = cyc((p) => p.driveGap);
    const perFileMs = (s: number): string => `${s.toFixed(2)} (${((s * 1000) / nFiles).toFixed(1)})`;
    return [r.name, r.wall.toFixed(2), `${mean(r.startup).toFixed(2)} / ${mean(r.plan).toFixed(2)}`, perFileMs(r.toFirstAssign), perFileMs(notifyConnect), perFileMs(data), perFileMs(reg), perFileMs(gap), perFileMs(r.tail)];
  });
  out(markdownTable(
    ['scenario', 'wall', 'encp start / plan (mean per process)', 'spawn -> first assign', 'notify + connect', 'data + filemark', 'registration', 'drive gap', 'last done -> exit'],
    wallRows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  ) + '\n');
  out(`\n(drive columns are summed over the files and divided by the number of drives used; with width 1 the columns from "spawn -> first assign" on add up to about the wall time)\n`);
} finally {
  const code = await sys.stop();
  if (code !== 0) out(`tapestry start exited with ${code}:\n${sys.output().slice(-2000)}\n`);
  if (values.keep) out(`kept ${inst.dir}\n`);
  else await inst.remove();
  if (cpuProf) out(`CPU profiles in ${cpuProf}/{server,encp}\n`);
}
