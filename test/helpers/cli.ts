import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '../..');
export const TAPESTRY_BIN = path.join(REPO, 'bin', 'tapestry.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a real CLI binary (as a user would) and collect its output. */
export function runBin(bin: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

export function tapestry(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runBin(TAPESTRY_BIN, args, env);
}

export const ENCP_BIN = path.join(REPO, 'bin', 'encp.js');

export function encp(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runBin(ENCP_BIN, args, env);
}

/** A `tapestry start` in its own process group, so stop() can send SIGINT the way a terminal's Ctrl-C does. */
export interface RunningTapestry {
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  /** SIGINT to the process group; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startTapestry(configFile: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<RunningTapestry> {
  const child = spawn(process.execPath, [TAPESTRY_BIN, 'start', '--config', configFile], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tapestry start printed no URL within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /running at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          child,
          output: () => out,
          stop: async (signal = 'SIGINT') => {
            if (child.exitCode === null) process.kill(-child.pid!, signal);
            return exited;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`tapestry start exited with ${code} before printing its URL:\n${out}`));
    });
  });
}
