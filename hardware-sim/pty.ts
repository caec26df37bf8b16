/**
 * Two connected serial endpoints for the simulated robot: the robot server
 * opens `simPath`, the media changer opens `clientPath`.
 *
 * - `createPtyPair` runs `socat` to make a real pseudo-terminal pair, so the
 *   client goes through the real serialport binding (system tests, `tapestry start`).
 * - `createMockPair` is the fallback when socat is missing: a null-modem wired
 *   out of two @serialport/binding-mock ports (pass `binding` to both ends).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lstat, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SerialPortMock } from 'serialport';
// These packages ship types only for their CommonJS entry point.
import type { MockPortBinding } from '@serialport/binding-mock' with { 'resolution-mode': 'require' };
import type { BindingInterface, BindingPortInterface, OpenOptions, PortStatus, SetOptions, UpdateOptions } from '@serialport/bindings-interface' with { 'resolution-mode': 'require' };
import { TapestryError } from '../src/errors/index.ts';

export interface PtyPair {
  /** The simulator's end. */
  readonly simPath: string;
  /** The media changer's end. */
  readonly clientPath: string;
  /** socat's process id (null for the mock pair); tests check it is gone after close. */
  readonly pid: number | null;
  /** Kill socat (if any) and wait for it to exit. Idempotent. */
  close(): Promise<void>;
}

export interface PtyPairOptions {
  /** Directory for the two symlinks (created if needed). */
  dir: string;
  simName?: string;
  clientName?: string;
  /** How long to wait for socat to set up the pair. */
  timeoutMs?: number;
  /** The socat executable (default `socat` on PATH). */
  socat?: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Spawn `socat -d -d pty,raw,echo=0,link=<dir>/robot-sim pty,raw,echo=0,link=<dir>/robot`
 * and resolve once both links exist. Throws UNAVAILABLE (context.missing =
 * 'socat') when socat is not installed, so the caller can use createMockPair.
 */
export async function createPtyPair(options: PtyPairOptions): Promise<PtyPair> {
  const simPath = join(options.dir, options.simName ?? 'robot-sim');
  const clientPath = join(options.dir, options.clientName ?? 'robot');
  const timeoutMs = options.timeoutMs ?? 5000;
  await mkdir(options.dir, { recursive: true });
  // Stale links from a killed run would make us think socat is ready before it is.
  await rm(simPath, { force: true });
  await rm(clientPath, { force: true });

  const child = spawn(options.socat ?? 'socat', ['-d', '-d', `pty,raw,echo=0,link=${simPath}`, `pty,raw,echo=0,link=${clientPath}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  // Keep draining stderr for the life of socat so it can never block on a full pipe.
  child.stderr!.on('data', (s: string) => {
    if (stderr.length < 8192) stderr += s;
  });

  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited(child);
    await rm(simPath, { force: true });
    await rm(clientPath, { force: true });
  };

  try {
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(poll);
        child.off('error', onError);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      const onError = (err: NodeJS.ErrnoException): void => {
        finish(
          err.code === 'ENOENT'
            ? new TapestryError('UNAVAILABLE', 'socat is not installed; install it with `apt-get install -y socat` (or use the mock serial pair)', { cause: err, context: { missing: 'socat' } })
            : new TapestryError('INTERNAL', `cannot start socat: ${err.message}`, { cause: err }),
        );
      };
      const onExit = (code: number | null, signal: string | null): void => {
        finish(new TapestryError('INTERNAL', `socat exited (${code ?? signal}) before the pty pair was ready: ${stderr.trim().slice(-500)}`));
      };
      const timer = setTimeout(() => finish(new TapestryError('TIMEOUT', `socat did not create ${simPath} and ${clientPath} within ${timeoutMs} ms: ${stderr.trim().slice(-500)}`)), timeoutMs);
      // socat creates the links after opening the ptys and logs "N PTY is /dev/pts/X" for
      // each; polling the links is the simplest signal that both are usable.
      const poll = setInterval(() => {
        void Promise.all([exists(simPath), exists(clientPath)]).then(([a, b]) => {
          if (a && b) finish();
        });
      }, 10);
      child.on('error', onError);
      child.on('exit', onExit);
    });
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }

  let closing: Promise<void> | null = null;
  return { simPath, clientPath, pid: child.pid ?? null, close: () => (closing ??= close()) };
}

// --- mock null-modem ------------------------------------------------------------------------

export interface MockPair extends PtyPair {
  /** Pass as `binding` to SerialPortStream (server end) and SerialMediaChanger (client end). */
  readonly binding: BindingInterface;
  /** Cut the cable: reads on both open ends fail as with EIO, like a pty whose socat died. */
  disconnect(): void;
}

let mockPairs = 0;
/**
 * serialport's own MockBinding instance (the CommonJS module): importing
 * '@serialport/binding-mock' from ESM would load a second copy with its own
 * port registry, so SerialPortMock and our ports would not see each other.
 */
const MockBinding = SerialPortMock.binding;

/**
 * A pair of mock serial ports wired like a null-modem cable: bytes written on
 * one end are received by the other. binding-mock alone only records writes
 * and lets a test inject reads (emitData); this wraps each port so its writes
 * are emitted on its peer.
 */
export function createMockPair(name = 'robot'): MockPair {
  const id = ++mockPairs;
  const simPath = `/dev/mock-${name}-sim-${id}`;
  const clientPath = `/dev/mock-${name}-${id}`;
  MockBinding.createPort(simPath);
  MockBinding.createPort(clientPath);
  const open = new Map<string, NullModemPort>();
  const peerOf: Record<string, string> = { [simPath]: clientPath, [clientPath]: simPath };

  const binding: BindingInterface = {
    list: () => MockBinding.list(),
    async open(opts: OpenOptions): Promise<BindingPortInterface> {
      if (!(opts.path in peerOf)) throw new Error(`no such mock port ${opts.path}`);
      const inner = await MockBinding.open(opts);
      const port = new NullModemPort(inner, () => open.get(peerOf[opts.path]!), () => open.delete(opts.path));
      open.set(opts.path, port);
      return port;
    },
  };
  const disconnect = (): void => {
    for (const port of open.values()) port.cut();
  };
  return { simPath, clientPath, pid: null, binding, disconnect, close: async () => disconnect() };
}

class NullModemPort implements BindingPortInterface {
  private cutLine!: (err: Error) => void;
  /** Rejects when the cable is cut; every read races it. */
  private readonly broken = new Promise<never>((_, reject) => (this.cutLine = reject));
  private isCut = false;

  constructor(
    private readonly inner: MockPortBinding,
    private readonly peer: () => NullModemPort | undefined,
    private readonly onClose: () => void,
  ) {
    this.broken.catch(() => undefined); // no read pending when cut is not an unhandled rejection
  }

  get openOptions(): Required<OpenOptions> {
    return this.inner.openOptions;
  }
  get isOpen(): boolean {
    return this.inner.isOpen;
  }

  /** Bytes for this end, written by the peer. Dropped when closed, as on a real line. */
  receive(data: Buffer): void {
    if (this.inner.isOpen && !this.isCut) this.inner.emitData(data);
  }

  async write(buffer: Buffer): Promise<void> {
    if (this.isCut) throw Object.assign(new Error('EIO: i/o error (mock cable cut)'), { code: 'EIO' });
    await this.inner.write(buffer);
    this.peer()?.receive(Buffer.from(buffer));
  }

  async close(): Promise<void> {
    this.onClose();
    await this.inner.close();
  }

  /** A non-canceled read error makes SerialPortStream treat the port as disconnected and close it. */
  cut(): void {
    this.isCut = true;
    this.cutLine(Object.assign(new Error('EIO: i/o error (mock cable cut)'), { code: 'EIO' }));
  }

  read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    return Promise.race([this.inner.read(buffer, offset, length), this.broken]);
  }
  update(options: UpdateOptions): Promise<void> {
    return this.inner.update(options);
  }
  set(options: SetOptions): Promise<void> {
    return this.inner.set(options);
  }
  get(): Promise<PortStatus> {
    return this.inner.get();
  }
  getBaudRate(): Promise<{ baudRate: number }> {
    return this.inner.getBaudRate();
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  drain(): Promise<void> {
    return this.inner.drain();
  }
}
