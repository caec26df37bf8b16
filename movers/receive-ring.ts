import net from 'node:net';
import { TapestryError } from '../src/errors/index.ts';

/**
 * Bulk receiving on a data connection without a fresh buffer per read.
 *
 * A socket normally hands every read over in a newly allocated 64 KiB buffer:
 * for a 1 GiB file that is 16,000 buffers of fresh memory (page faults) and
 * the full garbage collections their external memory triggers, which cost
 * more CPU than the copy itself (measured: ~0.9 CPU-s per GiB against ~0.3).
 * Node can instead read into memory we own (`onread`), but only on sockets it
 * connects, not on accepted ones — which is why the side that *receives* the
 * file opens the data connection (docs/architecture.md, "data channel").
 *
 * Reads land in a ring of `buffers` reused buffers and come out of `chunks`
 * as views. A view stays valid until the consumer has asked for
 * `buffers - 1` further chunks; every consumer in this code base copies or
 * hashes a chunk before it asks for the next one, so two buffers suffice and
 * four let the kernel run ahead. When the consumer lags, the socket is paused
 * (TCP flow control then slows the sender) rather than buffering more.
 * Once the iteration is over (the last chunk returned, a failure thrown or
 * the consumer stopped) the consumer holds no view any more.
 *
 * The buffers themselves outlive the connection: when both the socket has
 * closed (no read can land in them) and the iteration is over (no view is
 * held), they go to a small free list and the next connection reuses them.
 * Fresh rings cost 4 MiB of external memory per transfer, which at many
 * small files (or the soak's thousands of synthetic ones) made V8 run a full
 * collection every few files.
 */
export interface ReceivingSocket {
  readonly socket: net.Socket;
  /** The bytes as they arrive; ends at the peer's end, throws UNAVAILABLE when the connection breaks. */
  readonly chunks: AsyncIterable<Buffer>;
}

export interface ReceiveOptions {
  readonly buffers?: number;
  readonly bufferBytes?: number;
  /** Give up connecting after this long (ms). */
  readonly connectTimeoutMs?: number;
}

/** Split `host:port` (IPv6 hosts in brackets). */
export function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new TapestryError('MALFORMED', `not a host:port address: ${JSON.stringify(address)}`);
  return { host: address.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
}

/** Buffer sets of finished rings by `count×bytes`, at most MAX_SPARE_SETS in all. */
const spareSets = new Map<string, Buffer[][]>();
const MAX_SPARE_SETS = 4;
let spareCount = 0;

function takeBuffers(count: number, bytes: number): Buffer[] {
  const set = spareSets.get(`${count}x${bytes}`)?.pop();
  if (set) {
    spareCount--;
    return set;
  }
  return Array.from({ length: count }, () => Buffer.allocUnsafe(bytes));
}

function giveBackBuffers(bufs: Buffer[]): void {
  if (spareCount >= MAX_SPARE_SETS) return;
  const key = `${bufs.length}x${bufs[0]!.length}`;
  const list = spareSets.get(key) ?? [];
  list.push(bufs);
  spareSets.set(key, list);
  spareCount++;
}

class ReceiveRing implements AsyncIterable<Buffer> {
  private readonly bufs: Buffer[];
  /** Views read but not yet handed out, oldest first. */
  private readonly queue: Buffer[] = [];
  /** Chunks read so far; chunk i was read into bufs[i % bufs.length]. */
  private received = 0;
  /** next() calls so far; a call releases the chunk the previous call returned. */
  private calls = 0;
  private paused = false;
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  socket: net.Socket | null = null;
  /** The two conditions for handing the buffers on (see the file comment). */
  private socketClosed = false;
  private iterationOver = false;
  private recycled = false;

  constructor(count: number, bytes: number) {
    this.bufs = takeBuffers(Math.max(2, count), bytes);
  }

  /** The socket closed: nothing more is read into the buffers. */
  closed(): void {
    this.socketClosed = true;
    this.recycle();
  }

  private over(): void {
    this.iterationOver = true;
    this.queue.length = 0;
    this.recycle();
  }

  private recycle(): void {
    if (!this.socketClosed || !this.iterationOver || this.recycled) return;
    this.recycled = true;
    giveBackBuffers(this.bufs);
  }

  /** The buffer the next read goes into (Node asks before every read). */
  readonly nextBuffer = (): Buffer => this.bufs[this.received % this.bufs.length]!;

  /** A read completed into nextBuffer(); false pauses the socket until its successor's buffer is free. */
  readonly onRead = (n: number, buf: Uint8Array): boolean => {
    if (n > 0) {
      this.queue.push(Buffer.from(buf.buffer, buf.byteOffset, n));
      this.received++;
      this.signal();
    }
    if (this.free(this.received)) return true;
    this.paused = true;
    return false;
  };

  /** Chunk i may be read when chunk i - bufs.length has been released (calls - 1 chunks are). */
  private free(i: number): boolean {
    return i - this.bufs.length < this.calls - 1;
  }

  end(): void {
    this.ended = true;
    this.signal();
  }

  fail(err: Error): void {
    this.failure ??= err;
    this.signal();
  }

  private signal(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async next(): Promise<IteratorResult<Buffer, undefined>> {
    this.calls++;
    if (this.paused && this.free(this.received)) {
      this.paused = false;
      this.socket?.resume();
    }
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk) return { done: false, value: chunk };
      if (this.ended) {
        this.over();
        return { done: true, value: undefined };
      }
      if (this.failure) {
        this.over();
        throw this.failure;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer, undefined> {
    return {
      next: () => this.next(),
      return: async () => {
        // The consumer stopped early: nothing will read the rest.
        this.socket?.destroy();
        this.over();
        return { done: true, value: undefined };
      },
    };
  }
}

/** Connect to `address` for receiving bulk data into a ring of reused buffers. */
export function connectReceiving(address: string, options: ReceiveOptions = {}): Promise<ReceivingSocket> {
  const { host, port } = splitHostPort(address);
  const ring = new ReceiveRing(options.buffers ?? 4, options.bufferBytes ?? 1024 * 1024);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, onread: { buffer: ring.nextBuffer, callback: ring.onRead } });
    ring.socket = socket;
    const timer = setTimeout(() => socket.destroy(new TapestryError('TIMEOUT', `connecting to ${address} took longer than ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs ?? 30_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', reject);
      socket.setNoDelay(true);
      socket.on('error', (err) => ring.fail(new TapestryError('UNAVAILABLE', `data connection to ${address}: ${err.message}`, { cause: err })));
      resolve({ socket, chunks: ring });
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err instanceof TapestryError ? err : new TapestryError('UNAVAILABLE', `cannot connect to ${address}: ${err.message}`, { cause: err }));
    });
    socket.on('end', () => ring.end());
    socket.on('close', () => {
      ring.fail(new TapestryError('UNAVAILABLE', `the data connection to ${address} closed`));
      ring.closed();
    });
  });
}
