import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { isTapestryError, TapestryError } from '../../src/errors/index.ts';
import { VERSION } from '../../src/version.ts';
import { ApiClient } from '../lib/api-client.ts';
import { reportError } from '../lib/output.ts';
import { Callback, fileAdler32, readFromTape, writeToTape, type Progress, type Ticket, type TransferOutcome } from './transfer.ts';

/**
 * encp: copy files between local disk and the Tapestry namespace (Enstore's
 * encp, reference/enstore.md §4). Exactly one side is in the namespace:
 * `tape:/exp/raw/f`, or an absolute path whose first directory exists in the
 * namespace and not on local disk.
 */
interface Options {
  priority?: number;
  delayedDismount?: number;
  ecrc?: boolean;
  fileFamily?: string;
  fileFamilyWidth?: number;
  storageGroup?: string;
  maxRetry: number;
  verbose?: boolean;
  json?: boolean;
  progress: boolean;
}

type Place = { kind: 'local'; path: string } | { kind: 'ns'; path: string };

const intArg = (what: string, min: number) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${what} must be an integer ≥ ${min}`);
  return n;
};

async function localExists(p: string): Promise<boolean> {
  return fs.stat(p).then(() => true, () => false);
}

async function nsStat(api: ApiClient, p: string): Promise<{ kind: 'dir' | 'file' } | null> {
  try {
    const s = await api.get<{ type?: string; kind?: string }>(`/namespace/stat?path=${encodeURIComponent(p)}`);
    const kind = s.type ?? s.kind;
    return { kind: kind === 'file' ? 'file' : 'dir' };
  } catch (err) {
    if (isTapestryError(err) && (err.code === 'NOT_FOUND' || err.code === 'NO_SUCH_FILE')) return null;
    throw err;
  }
}

/** Decide which side an argument is on (see the header comment). */
async function place(api: ApiClient, arg: string): Promise<Place> {
  if (arg.startsWith('tape:')) return { kind: 'ns', path: path.posix.normalize(arg.slice(5)) };
  if (!arg.startsWith('/')) return { kind: 'local', path: path.resolve(arg) };
  const top = `/${arg.split('/').filter(Boolean)[0] ?? ''}`;
  const [inNs, onDisk] = await Promise.all([top === '/' ? Promise.resolve(null) : nsStat(api, top), localExists(top)]);
  if (inNs && onDisk) throw new TapestryError('USERERROR', `${arg} is ambiguous: ${top} exists both on local disk and in the namespace; write tape:${arg} for the namespace`);
  return inNs ? { kind: 'ns', path: path.posix.normalize(arg) } : { kind: 'local', path: arg };
}

function progressBar(enabled: boolean, label: string): Progress | null {
  if (!enabled) return null;
  const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total} B {speed} MB/s`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
  let t0 = 0;
  return {
    start: (total) => { t0 = Date.now(); bar.start(total, 0, { speed: '0' }); },
    update: (done) => bar.update(done, { speed: (done / 1e6 / Math.max(0.001, (Date.now() - t0) / 1000)).toFixed(1) }),
    stop: () => bar.stop(),
  };
}

interface Job {
  src: Place;
  dst: Place;
}

async function plan(api: ApiClient, args: string[]): Promise<Job[]> {
  if (args.length < 2) throw new TapestryError('USERERROR', 'encp needs a source and a destination: encp [options] SRC DST, or encp [options] SRC... DIR');
  const places = await Promise.all(args.map((a) => place(api, a)));
  const dst = places.at(-1)!;
  const srcs = places.slice(0, -1);
  for (const s of srcs) {
    if (s.kind === dst.kind) {
      throw new TapestryError('USERERROR', dst.kind === 'local'
        ? `both ${s.path} and ${dst.path} are local paths: exactly one side must be in the Tapestry namespace (tape:/dir/file)`
        : `both ${s.path} and ${dst.path} are in the namespace: exactly one side must be a local path`);
    }
  }
  const dstIsDir = dst.kind === 'local' ? await fs.stat(dst.path).then((s) => s.isDirectory(), () => false) : (await nsStat(api, dst.path))?.kind === 'dir';
  if (srcs.length > 1 && !dstIsDir) throw new TapestryError('USERERROR', `several sources need a destination directory; ${dst.path} is not one`);
  return srcs.map((src) => ({
    src,
    dst: dstIsDir ? { kind: dst.kind, path: (dst.kind === 'local' ? path.join : path.posix.join)(dst.path, path.basename(src.path)) } : dst,
  }));
}

interface Summary {
  src: string;
  dst: string;
  ok: boolean;
  bfid?: string;
  size?: number;
  crc?: number;
  volume?: string;
  fileNo?: number;
  mover?: string;
  seconds: number;
  rateMBps?: number;
  error?: { code: string; message: string };
}

async function submit(api: ApiClient, callback: Callback, job: Job, opts: Options): Promise<Ticket> {
  const common = {
    uniqueId: `${os.hostname().replace(/[^-A-Za-z0-9_.]/g, '_')}-${process.pid}-${randomUUID()}`,
    maxRetry: opts.maxRetry,
    ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
    ...(opts.delayedDismount !== undefined ? { dismountDelayMs: opts.delayedDismount * 60_000 } : {}),
  };
  if (job.src.kind === 'local') {
    const st = await fs.stat(job.src.path).catch(() => null);
    if (!st) throw new TapestryError('USERERROR', `no such file: ${job.src.path}`);
    if (!st.isFile()) throw new TapestryError('USERERROR', `${job.src.path} is not a regular file`);
    return api.post<Ticket>('/requests', {
      kind: 'write', ...common, callback: await callback.listen(), path: job.dst.path, size: st.size, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, owner: os.userInfo().username,
      ...(opts.fileFamily !== undefined ? { fileFamily: opts.fileFamily } : {}),
      ...(opts.fileFamilyWidth !== undefined ? { fileFamilyWidth: opts.fileFamilyWidth } : {}),
      ...(opts.storageGroup !== undefined ? { storageGroup: opts.storageGroup } : {}),
    });
  }
  if (await localExists(job.dst.path) && (await fs.stat(job.dst.path)).isDirectory()) throw new TapestryError('USERERROR', `${job.dst.path} is a directory`);
  return api.post<Ticket>('/requests', { kind: 'read', ...common, file: job.src.path });
}

async function run(api: ApiClient, callback: Callback, job: Job, ticket: Ticket, opts: Options): Promise<TransferOutcome> {
  const bar = progressBar(opts.progress, path.basename(job.src.path));
  if (job.src.kind === 'local') {
    const out = await writeToTape(api, ticket, callback, job.src.path, bar);
    if (opts.ecrc) {
      // Re-read what was written, from tape, and compare with what we sent.
      const back = await api.post<Ticket>('/requests', { kind: 'read', uniqueId: `${ticket.uniqueId}-ecrc`, file: out.bfid, maxRetry: opts.maxRetry });
      const again = await readFromTape(api, back, path.join(os.tmpdir(), 'encp-ecrc'), null, 'discard');
      if (again.crc !== out.crc) throw new TapestryError('CRC_MISMATCH', `--ecrc: re-reading ${job.dst.path} from ${out.volume} gave adler32 ${again.crc}, written ${out.crc}`, { context: { bfid: out.bfid } });
    }
    return out;
  }
  const out = await readFromTape(api, ticket, job.dst.path, bar);
  if (opts.ecrc) {
    const crc = await fileAdler32(job.dst.path);
    if (crc !== out.crc) {
      await fs.rm(job.dst.path, { force: true });
      throw new TapestryError('CRC_MISMATCH', `--ecrc: ${job.dst.path} on disk has adler32 ${crc}, tape gave ${out.crc}; the copy was removed`, { context: { bfid: out.bfid } });
    }
  }
  return out;
}

function buildProgram(): Command {
  return new Command('encp')
    .description('copy files between local disk and Tapestry: encp [options] SRC DST | encp [options] SRC... DIR')
    .version(VERSION)
    .argument('<paths...>')
    .option('--priority <n>', 'request priority (higher first)', intArg('--priority', 0))
    .option('--delayed-dismount <minutes>', 'keep the tape mounted this long after the transfer', intArg('--delayed-dismount', 0))
    .option('--ecrc', 're-read what was written (or the local copy that was read) and compare CRCs')
    .option('--file-family <name>', 'override the directory\'s file_family tag')
    .option('--file-family-width <n>', 'override the directory\'s file_family_width tag', intArg('--file-family-width', 1))
    .option('--storage-group <name>', 'override the directory\'s storage_group tag')
    .option('--max-retry <n>', 'retries of retryable failures', intArg('--max-retry', 0), 3)
    .option('--verbose', 'print a line per file and the totals')
    .option('--json', 'print one JSON summary object per file')
    .option('--no-progress', 'no progress bar (the default when stderr is not a terminal)')
    .showHelpAfterError()
    .exitOverride();
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    program.parse(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  const opts = program.opts<Options>();
  opts.progress = opts.progress && process.stderr.isTTY === true && !opts.json;
  // An outage after the first contact (API restart, database fail-over) is
  // waited out; say so, or a silent encp looks hung.
  const api = new ApiClient(undefined, {
    onOutage: (e) => process.stderr.write(e.state === 'down'
      ? `encp: Tapestry unreachable (${e.cause}); retrying (TAPESTRY_OUTAGE_MS sets how long)\n`
      : `encp: Tapestry reachable again after ${(e.waitedMs / 1000).toFixed(1)} s\n`),
  });
  const callback = new Callback(api.baseUrl);
  try {
    return await transferAll(api, callback, program.args, opts);
  } finally {
    await callback.close();
  }
}

async function transferAll(api: ApiClient, callback: Callback, args: string[], opts: Options): Promise<number> {
  const jobs = await plan(api, args);
  const t0 = Date.now();
  // Queue every file first, so the library manager can order reads on a tape.
  const tickets = await Promise.allSettled(jobs.map((j) => submit(api, callback, j, opts)));
  const summaries = await Promise.all(jobs.map(async (job, i): Promise<Summary> => {
    const started = Date.now();
    const base = { src: job.src.kind === 'ns' ? `tape:${job.src.path}` : job.src.path, dst: job.dst.kind === 'ns' ? `tape:${job.dst.path}` : job.dst.path };
    try {
      const t = tickets[i]!;
      if (t.status === 'rejected') throw t.reason;
      const out = await run(api, callback, job, t.value, opts);
      const seconds = (Date.now() - started) / 1000;
      return { ...base, ok: true, bfid: out.bfid, size: out.size, crc: out.crc, volume: out.volume, fileNo: out.fileNo, mover: out.mover, seconds, rateMBps: Number((out.size / 1e6 / Math.max(seconds, 0.001)).toFixed(2)) };
    } catch (err) {
      const e = isTapestryError(err) ? err : new TapestryError('INTERNAL', (err as Error).message);
      return { ...base, ok: false, seconds: (Date.now() - started) / 1000, error: { code: e.code, message: e.message } };
    }
  }));
  for (const s of summaries) {
    if (opts.json) process.stdout.write(JSON.stringify(s) + '\n');
    else if (!s.ok) process.stderr.write(`encp: ${s.error!.code}: ${s.src} -> ${s.dst}: ${s.error!.message}\n`);
    else if (opts.verbose) process.stdout.write(`${s.src} -> ${s.dst}: ${s.size} bytes, adler32 ${s.crc}, volume ${s.volume} file ${s.fileNo}, ${s.seconds.toFixed(2)} s (${s.rateMBps} MB/s)\n`);
  }
  const failed = summaries.filter((s) => !s.ok);
  if (opts.verbose && !opts.json) {
    const bytes = summaries.reduce((n, s) => n + (s.size ?? 0), 0);
    const secs = (Date.now() - t0) / 1000;
    process.stdout.write(`Completed transferring ${bytes} bytes in ${summaries.length - failed.length} files in ${secs.toFixed(2)} sec. Overall rate ${(bytes / 1e6 / Math.max(secs, 0.001)).toFixed(2)} MB/s. Exit status = ${failed.length === 0 ? 0 : 1}.\n`);
  }
  if (failed.length === 0) return 0;
  // A usage-class error (bad path, illegal tag) exits 2 only when it is the only kind of failure.
  return failed.every((s) => s.error!.code === 'USERERROR') ? 2 : 1;
}

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { process.exitCode = reportError('encp', err); },
);
