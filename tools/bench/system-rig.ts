/**
 * Shared plumbing of the whole-process benchmarks (throughput.ts,
 * small-files.ts): a temporary installation of the example tapestry.yaml with
 * benchmark media figures, a real `tapestry start` in its own process group,
 * the real `encp` / `tapestry` binaries as child processes, timing, cache
 * control and the server's JSON-lines log.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { ENCP_BIN, TAPESTRY_BIN } from '../../test/helpers/cli.ts';
import { makeTestInstallation, type TestInstallation } from '../../test/helpers/system-config.ts';

export { ENCP_BIN, TAPESTRY_BIN };

const REPO = path.resolve(import.meta.dirname, '../..');

export interface BenchInstallationOptions {
  /** Extra `[regex, replacement]` edits of tapestry.yaml (after the benchmark ones). */
  readonly replace?: readonly (readonly [RegExp, string])[];
  /** CTA mount criteria age (the example has 2s); see the header of throughput.ts. */
  readonly mountMaxAge?: string;
  readonly blockSize?: string;
  readonly logLevel?: string;
}

/**
 * The example config with: rate unlimited, capacity 18TB, block 256KiB,
 * time_scale 0 (load, unload, locate, robot moves cost nothing), an ephemeral
 * HTTP port and its own var dir (database, cartridges, log) under os.tmpdir().
 */
export async function makeBenchInstallation(options: BenchInstallationOptions = {}): Promise<TestInstallation> {
  buildEncp();
  const replace: (readonly [RegExp, string])[] = [
    [/^    capacity: .*$/m, '    capacity: 18TB'],
    [/^    rate: .*$/m, '    rate: unlimited'],
    [/^    block_size: .*$/m, `    block_size: ${options.blockSize ?? '256KiB'}`],
  ];
  if (options.mountMaxAge !== undefined) replace.push([/^    mount_max_age: .*$/m, `    mount_max_age: ${options.mountMaxAge}`]);
  if (options.logLevel !== undefined) replace.push([/^  level: info.*$/m, `  level: ${options.logLevel}`]);
  return makeTestInstallation({ timeScale: 0, replace: [...replace, ...(options.replace ?? [])] });
}

export interface RunningSystem {
  readonly url: string;
  readonly pid: number;
  readonly env: NodeJS.ProcessEnv;
  output(): string;
  /** SIGINT to the process group (a terminal's Ctrl-C); resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * `node [nodeArgs] bin/tapestry.js start --config FILE` in its own process
 * group. nodeArgs: e.g. `--cpu-prof --cpu-prof-dir=DIR` (Node 20 refuses
 * --cpu-prof in NODE_OPTIONS, so it goes on the command line).
 */
export function startSystem(configFile: string, nodeArgs: readonly string[] = [], timeoutMs = 60_000): Promise<RunningSystem> {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, TAPESTRY_BIN, 'start', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
      reject(new Error(`tapestry start printed no URL within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    let started = false;
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /running at (http:\/\/\S+)/.exec(out);
      if (m && !started) {
        started = true;
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          pid: child.pid!,
          env: { TAPESTRY_URL: m[1]! },
          output: () => out,
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGINT');
            return exited;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`tapestry start exited with ${code} before printing its URL:\n${out}`));
    });
  });
}

export interface Timed {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit, seconds. */
  readonly seconds: number;
}

/** Run a command (argv[0] looked up on PATH) and time it from spawn to exit. */
export function timedRun(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, seconds: Number(process.hrtime.bigint() - t0) / 1e9 }));
  });
}

let encpEntry = ENCP_BIN;
/**
 * Rebuild encp's bundle (`npm run build`), so the benchmark times the
 * precompiled client users run: bin/encp.js falls back to the TypeScript
 * sources through tsx (~0.4 s more per process) when the bundle is stale.
 */
export function buildEncp(): void {
  execFileSync(process.execPath, ['--import', 'tsx', path.join(REPO, 'tools/build.ts')], { stdio: 'ignore' });
}

/**
 * Run another encp entry point than bin/encp.js (the benches' --encp option),
 * e.g. an esbuild bundle of tools/encp/main.ts, to measure what start-up
 * through tsx costs.
 */
export function useEncpEntry(file: string): void {
  encpEntry = path.resolve(file);
}

/** `node [nodeArgs] bin/encp.js args...` (or the --encp entry), timed. */
export function encpRun(args: readonly string[], env: NodeJS.ProcessEnv, nodeArgs: readonly string[] = []): Promise<Timed> {
  return timedRun([process.execPath, ...nodeArgs, encpEntry, ...args], env);
}

export function encpEntryPoint(): string {
  return encpEntry;
}

export async function tapestryCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await timedRun([process.execPath, TAPESTRY_BIN, ...args], env);
  if (r.code !== 0) throw new Error(`tapestry ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A namespace directory that takes files: `ns mkdir -p`, file_family, file_family_width. */
export async function makeFamilyDir(env: NodeJS.ProcessEnv, dir: string, family: string, width: number): Promise<void> {
  await tapestryCli(['ns', 'mkdir', '-p', dir], env);
  await tapestryCli(['ns', 'tag', 'set', dir, 'file_family', family], env);
  await tapestryCli(['ns', 'tag', 'set', dir, 'file_family_width', String(width)], env);
}

/** A file of `size` random bytes (written in 16 MiB pieces). */
export async function makeRandomFile(file: string, size: number): Promise<void> {
  const fh = await open(file, 'w');
  const buf = Buffer.allocUnsafe(Math.min(size, 16 * 1024 * 1024) || 1);
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(buf.length, size - done);
      randomFillSync(buf, 0, n);
      await fh.write(buf, 0, n);
      done += n;
    }
  } finally {
    await fh.close();
  }
}

export const sync = (): void => void execFileSync('sync');

/**
 * `sync; echo 3 > /proc/sys/vm/drop_caches`. True when the page cache could be
 * dropped (root, writable /proc/sys), false when not (then the caller reports
 * warm-cache conditions).
 */
export function dropCaches(): boolean {
  sync();
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** One line of the server's JSON-lines log (<installation>/var/log/tapestry.log). */
export interface LogLine {
  readonly event?: string;
  readonly timestamp: string;
  readonly t: number;
  readonly [key: string]: unknown;
}

/** The server log's lines from byte `from` on (pass the previous length to read only what is new). */
export function readLog(installationDir: string, from = 0): { lines: LogLine[]; length: number } {
  const file = path.join(installationDir, 'var', 'log', 'tapestry.log');
  if (!existsSync(file)) return { lines: [], length: 0 };
  const buf = readFileSync(file);
  const lines: LogLine[] = [];
  for (const text of buf.subarray(from).toString('utf8').split('\n')) {
    if (!text.trim()) continue;
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      if (typeof o.timestamp === 'string') lines.push({ ...o, timestamp: o.timestamp, t: Date.parse(o.timestamp) });
    } catch {
      // a partial last line: skip
    }
  }
  return { lines, length: buf.length };
}

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

/** `| a | b |` rows with a header separator, columns padded. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[], align: readonly ('l' | 'r')[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (s: string, i: number): string => ((align[i] ?? 'l') === 'r' ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const line = (r: readonly string[]): string => `| ${r.map((c, i) => cell(c, i)).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => ((align[i] ?? 'l') === 'r' ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(header), sep, ...rows.map(line)].join('\n');
}

/** A benchmark's end: stop Tapestry (its output when it failed), remove or keep the installation, say where the profiles are. */
export async function finishBench(sys: RunningSystem, inst: TestInstallation, options: { keep: boolean; cpuProf: string | null }, out: (s: string) => void): Promise<void> {
  const code = await sys.stop();
  if (code !== 0) out(`tapestry start exited with ${code}:\n${sys.output().slice(-2000)}\n`);
  if (options.keep) out(`kept ${inst.dir}\n`);
  else await inst.remove();
  if (options.cpuProf) out(`CPU profiles in ${options.cpuProf}/{server,encp}\n`);
}
