import net from 'node:net';
import { TapestryError } from '../src/errors/index.ts';
import type { Logger } from '../src/logging/index.ts';
import type { DataHeader } from '../src/protocol/index.ts';
import { ChunkReader } from './chunk-reader.ts';
import { answerError, readDataFrame } from './data-channel.ts';

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

interface Early {
  conn: DataConnection;
  timer: NodeJS.Timeout;
}

export interface DataServerOptions {
  /** How long a connection whose token the mover has not been told about yet is held (ms). */
  readonly earlyMs?: number;
  /** How many such connections are held at once; more are refused. */
  readonly maxEarly?: number;
  /** How long a new connection may take to send its header (ms). */
  readonly headerMs?: number;
}

/**
 * The mover's data port: encp connects with the one-time token the library
 * manager gave it. The assignment reaches encp (HTTP long-poll) and the mover
 * (its TCP session) by different paths, so encp may arrive first: a
 * connection with a token not expected yet is held for a few seconds until
 * the mover's expect() claims it. A connection with a token nobody claims in
 * that time, a garbled header, or none within a few seconds is answered with
 * an error result and closed.
 */
export class DataServer {
  private readonly server = net.createServer((socket) => void this.accept(socket));
  private readonly expected = new Map<string, Expected>();
  private readonly early = new Map<string, Early>();
  private readonly earlyMs: number;
  private readonly maxEarly: number;
  private readonly headerMs: number;

  constructor(private readonly log: Pick<Logger, 'warn'>, options: DataServerOptions = {}) {
    this.earlyMs = options.earlyMs ?? 10_000;
    this.maxEarly = options.maxEarly ?? 16;
    this.headerMs = options.headerMs ?? 10_000;
  }

  async listen(host: string, port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return `${host}:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** Wait for encp to connect with `token` (or take its connection if it came first). */
  expect(token: string, timeoutMs: number): Promise<DataConnection> {
    const early = this.early.get(token);
    if (early) {
      clearTimeout(early.timer);
      this.early.delete(token);
      return Promise.resolve(early.conn);
    }
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
    const guard = setTimeout(() => socket.destroy(), this.headerMs);
    try {
      const header = await readDataFrame(reader, 'header');
      clearTimeout(guard);
      const conn = { socket, reader, header };
      const e = this.expected.get(header.token);
      if (e) {
        this.expected.delete(header.token);
        clearTimeout(e.timer);
        e.resolve(conn);
        return;
      }
      if (this.early.size >= this.maxEarly || this.early.has(header.token)) throw new TapestryError('UNAUTHORIZED', 'unknown or expired data-channel token');
      this.hold(conn);
    } catch (err) {
      clearTimeout(guard);
      this.refuse(socket, err);
    }
  }

  /** Keep a connection that came before its expect(); refuse it if nobody claims it in time. */
  private hold(conn: DataConnection): void {
    const token = conn.header.token;
    const drop = (): void => {
      if (this.early.get(token)?.conn !== conn) return;
      clearTimeout(timer);
      this.early.delete(token);
    };
    const timer = setTimeout(() => {
      drop();
      this.refuse(conn.socket, new TapestryError('UNAUTHORIZED', 'unknown or expired data-channel token'));
    }, this.earlyMs);
    this.early.set(token, { conn, timer });
    conn.socket.once('close', drop);
  }

  private refuse(socket: net.Socket, err: unknown): void {
    const e = err instanceof TapestryError ? err : new TapestryError('MALFORMED', (err as Error).message);
    this.log.warn({ event: 'mover.data_refused', code: e.code, message: e.message, remote: socket.remoteAddress });
    answerError(socket, e);
  }

  async close(): Promise<void> {
    for (const token of [...this.expected.keys()]) this.forget(token);
    for (const { conn, timer } of this.early.values()) {
      clearTimeout(timer);
      conn.socket.destroy();
    }
    this.early.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
