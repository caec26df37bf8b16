import net from 'node:net';
import { TapestryError } from '../src/errors/index.ts';
import type { Logger } from '../src/logging/index.ts';
import type { DataHeader } from '../src/protocol/index.ts';
import { ChunkReader } from './chunk-reader.ts';
import { dataFrame, readDataFrame } from './data-channel.ts';

/** An encp connection that presented a valid token: its header is read, the raw bytes follow. */
export interface DataConnection {
  readonly socket: net.Socket;
  readonly reader: ChunkReader;
  readonly header: DataHeader;
}

interface Expected {
  resolve: (c: DataConnection) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

/**
 * The mover's data port: encp connects with the one-time token the library
 * manager gave it. A connection with an unknown token, a garbled header, or
 * none within a few seconds is answered with an error result and closed.
 */
export class DataServer {
  private readonly server = net.createServer((socket) => void this.accept(socket));
  private readonly expected = new Map<string, Expected>();

  constructor(private readonly log: Logger) {}

  async listen(host: string, port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return `${host}:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** Wait for encp to connect with `token`. */
  expect(token: string, timeoutMs: number): Promise<DataConnection> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.expected.delete(token);
        reject(new TapestryError('TIMEOUT', `encp did not connect to the data channel within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.expected.set(token, { resolve, reject, timer });
    });
  }

  /** Stop waiting for a token (the transfer was abandoned). */
  forget(token: string): void {
    const e = this.expected.get(token);
    if (!e) return;
    clearTimeout(e.timer);
    this.expected.delete(token);
    e.reject(new TapestryError('CONFLICT', 'the transfer was abandoned'));
  }

  private async accept(socket: net.Socket): Promise<void> {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    const reader = new ChunkReader(socket);
    const guard = setTimeout(() => socket.destroy(), 10_000);
    try {
      const header = await readDataFrame(reader, 'header');
      clearTimeout(guard);
      const e = this.expected.get(header.token);
      if (!e) throw new TapestryError('UNAUTHORIZED', 'unknown or expired data-channel token');
      this.expected.delete(header.token);
      clearTimeout(e.timer);
      e.resolve({ socket, reader, header });
    } catch (err) {
      clearTimeout(guard);
      const e = err instanceof TapestryError ? err : new TapestryError('MALFORMED', (err as Error).message);
      this.log.warn({ event: 'mover.data_refused', code: e.code, message: e.message, remote: socket.remoteAddress });
      if (!socket.destroyed) {
        socket.end(dataFrame('result', { ok: false, code: e.code, message: e.message, bfid: null, crc: 0, size: 0, volume: null, fileNo: 0 }));
      }
    }
  }

  async close(): Promise<void> {
    for (const token of [...this.expected.keys()]) this.forget(token);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
