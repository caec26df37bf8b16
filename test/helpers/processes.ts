import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { ENCP_BIN, TAPESTRY_BIN, type CliResult } from './cli.ts';

/** A free TCP port on 127.0.0.1 (for an API that must come back on the same address after a restart). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A Tapestry process the test started (a mover, a library manager): its output, and a way to end it. */
export interface Proc {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
  /** Send `signal` (SIGKILL: a crash) and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `tapestry <args>` as a long-running process; resolves once its output matches `ready`. */
export async function startProc(args: readonly string[], env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs = 60_000): Promise<Proc> {
  const child = spawn(process.execPath, [TAPESTRY_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const proc: Proc = {
    child,
    output: () => out,
    exited,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  const deadline = Date.now() + timeoutMs;
  while (!ready.test(out)) {
    if (child.exitCode !== null) throw new Error(`tapestry ${args.join(' ')} exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`tapestry ${args.join(' ')} not ready within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return proc;
}

/** `tapestry start --component mover --name <drive>`. */
export function startMover(configFile: string, drive: string, env: NodeJS.ProcessEnv): Promise<Proc> {
  return startProc(['start', '--component', 'mover', '--name', drive, '--config', configFile], env, new RegExp(`mover ${drive} running`));
}

/** An encp run in the background: the test acts while it transfers, then awaits its result. */
export function encpInBackground(args: readonly string[], env: NodeJS.ProcessEnv): { child: ChildProcess; result: Promise<CliResult> } {
  const child = spawn(process.execPath, [ENCP_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, result };
}

/** Poll `probe` until it returns a value (not undefined); fails after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Run `fn` over `items` with at most `width` at once. */
export async function eachLimit<T>(items: readonly T[], width: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  }));
}
