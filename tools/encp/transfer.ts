import fs from 'node:fs/promises';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Adler32 } from '../../src/checksum/adler32.ts';
import { isTapestryError, TapestryError } from '../../src/errors/index.ts';
import { isErrorCode } from '../../src/errors/codes.ts';
import type { DataResult } from '../../src/protocol/index.ts';
import { ChunkReader } from '../../movers/chunk-reader.ts';
import { dataFrame, rawBytes, readDataFrame, sendChunk, writeAll } from '../../movers/data-channel.ts';
import { DataServer } from '../../movers/data-server.ts';
import { connectReceiving, splitHostPort } from '../../movers/receive-ring.ts';
import type { ApiClient } from '../lib/api-client.ts';

/** The ticket the API returns for a queued request (library-manager/intake.ts). */
export interface Ticket {
  requestId: number;
  uniqueId: string;
  library: string;
  kind: 'read' | 'write';
  bfid: string;
  path: string;
  size: number;
  crc: number | null;
  volume: string | null;
  fileNo: number | null;
}

interface RequestView {
  state: string;
  attempts: number;
  assignment: { mover: string; dataAddress: string; token: string; volume: string } | null;
  result: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
}

export interface Progress {
  start(total: number): void;
  update(done: number): void;
  stop(): void;
}

export interface TransferOutcome {
  readonly bfid: string;
  readonly size: number;
  readonly crc: number;
  readonly volume: string;
  readonly fileNo: number;
  readonly mover: string;
  readonly attempts: number;
}

/** A failure encp itself detected: final, whatever the library manager does next. */
class EncpFailure extends Error {
  constructor(readonly error: TapestryError) {
    super(error.message);
  }
}

const fatal = (code: ConstructorParameters<typeof TapestryError>[0], message: string, context: Record<string, unknown> = {}): EncpFailure =>
  new EncpFailure(new TapestryError(code, message, { context }));

type Assignment = NonNullable<RequestView['assignment']>;

/** An open data connection with the assigned mover. */
interface Link {
  readonly socket: net.Socket;
  readonly reader: ChunkReader;
}

/**
 * How encp gets its data connection for an assignment: a link, or — when the
 * request moved on first (re-queued, failed, another assignment) — the newer
 * view of it.
 */
type Linker = (api: ApiClient, ticket: Ticket, assignment: Assignment, view: RequestView) => Promise<Link | RequestView>;

const statusPath = (ticket: Ticket): string => `/libraries/${encodeURIComponent(ticket.library)}/requests/${ticket.requestId}`;

/** Long-poll once: the request's view once it differs from `known` (or after 30 s). */
function poll(api: ApiClient, ticket: Ticket, known: { state?: string; token?: string }, signal?: AbortSignal): Promise<RequestView> {
  const q = new URLSearchParams({ waitMs: '30000', ...(known.state ? { state: known.state } : {}), ...(known.token ? { token: known.token } : {}) });
  return api.get<RequestView>(`${statusPath(ticket)}?${q.toString()}`, signal);
}

/**
 * Follow a request until a mover is assigned, open the data connection with
 * it, run the transfer, and repeat with the next assignment when the mover
 * fails in a retryable way: the library manager re-queues the request and
 * counts the attempts; encp never trusts a transfer without a matching result
 * frame (DESIGN §5).
 */
async function serve(api: ApiClient, ticket: Ticket, link: Linker, run: (link: Link, assignment: Assignment) => Promise<DataResult>): Promise<TransferOutcome> {
  let lastError: TapestryError | null = null;
  let view = await poll(api, ticket, {});
  for (;;) {
    if (view.state === 'failed' || view.state === 'cancelled') {
      const code = view.error && isErrorCode(view.error.code) ? view.error.code : 'INTERNAL';
      throw new TapestryError(code, view.error?.message ?? `request ${ticket.requestId} ${view.state}`, { context: { requestId: ticket.requestId, attempts: view.attempts } });
    }
    const assignment = view.assignment;
    if (!assignment) {
      // A write whose bytes the mover registered while our connection broke
      // (or a crash lost its WorkDone and the library manager settled it from
      // the catalogue): on tape under our bfid with the CRC the mover checked
      // against our trailer. Done, not failed — and never sent twice.
      const written = view.state === 'done' && ticket.kind === 'write' ? writtenOutcome(ticket, view) : null;
      if (written) return written;
      if (view.state === 'done') throw lastError ?? new TapestryError('INTERNAL', `request ${ticket.requestId} finished without a transfer by this encp`);
      view = await poll(api, ticket, { state: view.state });
      continue;
    }
    let opened: Link | null = null;
    try {
      const linked = await link(api, ticket, assignment, view);
      if (!('socket' in linked)) {
        view = linked;
        continue;
      }
      opened = linked;
      const result = await run(linked, assignment);
      if (!result.ok) {
        const code = result.code ?? 'INTERNAL';
        throw new TapestryError(code, result.message || `the mover reported ${code}`, { context: { mover: assignment.mover, volume: result.volume } });
      }
      return { bfid: result.bfid ?? ticket.bfid, size: result.size, crc: result.crc, volume: result.volume ?? assignment.volume, fileNo: result.fileNo, mover: assignment.mover, attempts: view.attempts };
    } catch (err) {
      // encp's own verdicts (its CRC differs, the local file changed) end the
      // transfer. Anything the mover reported, or a cut connection, is the
      // library manager's to judge: it re-queues the request (a new assignment
      // follows) or fails it (the next poll says with which code).
      if (err instanceof EncpFailure) throw err.error;
      lastError = isTapestryError(err) ? err : new TapestryError('UNAVAILABLE', `data channel to ${assignment.mover}: ${(err as Error).message}`, { cause: err });
    } finally {
      opened?.socket.destroy();
    }
    view = await poll(api, ticket, { state: view.state, token: assignment.token });
  }
}

/** The outcome of a write the library manager recorded as done, from its result; null when it is not ours. */
function writtenOutcome(ticket: Ticket, view: RequestView): TransferOutcome | null {
  const r = view.result ?? {};
  if (r.bfid !== ticket.bfid || typeof r.volume !== 'string' || typeof r.fileNo !== 'number' || typeof r.crc !== 'number') return null;
  return { bfid: ticket.bfid, size: typeof r.size === 'number' ? r.size : ticket.size, crc: r.crc, volume: r.volume, fileNo: r.fileNo, mover: typeof r.mover === 'string' ? r.mover : typeof r.drive === 'string' ? r.drive : 'unknown', attempts: view.attempts };
}

/** Reads: encp receives, so encp connects to the mover's data port and presents the token. */
const connectToMover: Linker = async (_api, ticket, assignment) => {
  const { socket, chunks } = await connectReceiving(assignment.dataAddress);
  try {
    await writeAll(socket, dataFrame('header', { token: assignment.token, direction: 'read', size: ticket.size, bfid: ticket.bfid }));
  } catch (err) {
    socket.destroy();
    throw err;
  }
  return { socket, reader: new ChunkReader(chunks) };
};

/**
 * Writes: the mover receives, so it connects to encp's callback listener
 * (as in Enstore) and presents the token. One listener serves every write of
 * this encp process. Its address goes into each write request; the host is
 * TAPESTRY_CALLBACK_HOST when set, 127.0.0.1 when the API is on this machine
 * (loopback), otherwise every interface, advertised under this host's name.
 */
export class Callback {
  private server: DataServer | null = null;
  private address: Promise<string> | null = null;

  constructor(private readonly apiUrl: string) {}

  /** `host:port` to put into a write request; starts listening on first use. */
  listen(): Promise<string> {
    this.address ??= (async () => {
      const loopback = /^(localhost|127\.[0-9.]+|\[::1\])$/.test(new URL(this.apiUrl).hostname);
      const host = process.env.TAPESTRY_CALLBACK_HOST ?? (loopback ? '127.0.0.1' : '0.0.0.0');
      // A mover may take minutes to mount before it connects, and may connect
      // before encp's poll has seen the assignment: hold such connections.
      this.server = new DataServer({ warn: noop }, { earlyMs: 60_000, maxEarly: 64 });
      const bound = await this.server.listen(host);
      const { port } = splitHostPort(bound);
      return `${host === '0.0.0.0' ? os.hostname() : host}:${port}`;
    })();
    return this.address;
  }

  /** Wait for the assigned mover to connect, or for the request to move on without it. */
  readonly awaitMover: Linker = async (api, ticket, assignment, view) => {
    const server = this.server;
    if (!server) throw new TapestryError('INTERNAL', 'write submitted without a callback listener');
    const stop = new AbortController();
    const arrived = server.expect(assignment.token, 24 * 3600_000);
    const movedOn = (async (): Promise<RequestView> => {
      let known = { state: view.state, token: assignment.token };
      for (;;) {
        const v = await poll(api, ticket, known, stop.signal);
        if (v.assignment?.token !== assignment.token || v.state === 'failed' || v.state === 'cancelled' || v.state === 'done' || v.state === 'queued') return v;
        known = { state: v.state, token: assignment.token };
      }
    })();
    movedOn.catch(noop);
    arrived.catch(noop);
    try {
      const first = await Promise.race([arrived.then((conn) => ({ conn })), movedOn.then((v) => ({ v }))]);
      if ('v' in first) {
        server.forget(assignment.token);
        return first.v;
      }
      const { header } = first.conn;
      if (header.direction !== 'write' || header.size !== ticket.size || (header.bfid !== null && header.bfid !== ticket.bfid)) {
        first.conn.socket.destroy();
        throw new TapestryError('MALFORMED', `the mover's data header (${header.direction}, ${header.size} bytes, ${header.bfid}) does not match the write (${ticket.size} bytes, ${ticket.bfid})`);
      }
      return first.conn;
    } finally {
      stop.abort();
    }
  };

  async close(): Promise<void> {
    await this.server?.close();
  }
}

/**
 * Local-file buffers. Reading into a few reused buffers instead of a fresh one
 * per chunk (as fs.createReadStream does) matters: a fresh 1 MiB buffer is
 * fresh memory, and the page faults of filling it cost more CPU than reading
 * the file (measured with tools/bench/throughput.ts). The buffers
 * are pooled across the files of one encp, so 1,000 small files do not
 * allocate 1,000 sets either.
 */
const CHUNK_BYTES = 1024 * 1024;
/** A file read from tape is synced to disk in steps of this many bytes while it arrives. */
const SYNC_EVERY = 64 * 1024 * 1024;
/** Buffers in flight on the data socket at most, per transfer (bounded memory: RING × CHUNK_BYTES). */
const RING = 4;
const pool: Buffer[] = [];
const takeBuffer = (): Buffer => pool.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES);
/** Only buffers nothing refers to any more (every socket write or file write of them has completed). */
const giveBack = (bufs: readonly Buffer[]): void => {
  for (const b of bufs) if (pool.length < 4 * RING) pool.push(b);
};

const noop = (): void => {};

/** Write all of `buf` at the file's current position. */
async function writeFully(fh: fs.FileHandle, buf: Buffer, wrote: (bytes: number) => void = noop): Promise<void> {
  for (let done = 0; done < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done);
    done += bytesWritten;
    wrote(bytesWritten);
  }
}

/** The mover answered before encp sent everything: only a failure makes sense then. */
async function earlyAnswer(answer: Promise<DataResult>, sent: number, size: number): Promise<DataResult> {
  const result = await answer; // a closed channel rejects: the library manager judges what follows
  if (result.ok) throw new TapestryError('MALFORMED', `the mover reported success after ${sent} of ${size} bytes`);
  return result;
}

/** Stream a local file to tape; returns what the mover registered. Bounded memory: RING reused read buffers. */
export async function writeToTape(api: ApiClient, ticket: Ticket, callback: Callback, localPath: string, progress: Progress | null): Promise<TransferOutcome> {
  const outcome = await serve(api, ticket, callback.awaitMover, async ({ socket, reader }) => {
    // The mover answers once, at the end, unless it fails (or refuses us)
    // first: listen from the start so a mover that stopped reading cannot
    // leave encp blocked on a full socket.
    const answer = readDataFrame(reader, 'result');
    let answered = false;
    answer.then(() => (answered = true), () => (answered = true));
    const sum = new Adler32();
    let sent = 0;
    progress?.start(ticket.size);
    const fh = await fs.open(localPath, 'r');
    const ring = Array.from({ length: RING }, takeBuffer);
    const inFlight: (Promise<void> | null)[] = ring.map(() => null);
    try {
      for (let i = 0; ; i = (i + 1) % RING) {
        await Promise.race([inFlight[i], answer]); // the socket is done with this buffer, or the mover spoke early
        if (answered) return await earlyAnswer(answer, sent, ticket.size);
        const buf = ring[i]!;
        const { bytesRead } = await fh.read(buf, 0, buf.length, sent);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        sum.update(chunk);
        sent += bytesRead;
        if (sent > ticket.size) throw fatal('USERERROR', `${localPath} grew while it was being copied`);
        inFlight[i] = sendChunk(socket, chunk);
        progress?.update(sent);
      }
      for (const p of inFlight) await p;
      giveBack(ring); // (after a failure they are dropped instead: the socket may still hold one)
    } finally {
      await fh.close();
    }
    if (sent !== ticket.size) throw fatal('USERERROR', `${localPath} changed size while it was being copied (${sent} of ${ticket.size} bytes)`);
    const crc = sum.digest();
    await writeAll(socket, dataFrame('trailer', { crcAdler32: crc, size: sent }));
    const result = await answer;
    progress?.stop();
    if (result.ok && (result.crc !== crc || result.size !== sent)) {
      throw fatal('CRC_MISMATCH', `the mover registered adler32 ${result.crc} over ${result.size} bytes; encp sent ${crc} over ${sent}`, { bfid: ticket.bfid });
    }
    return result;
  });
  return outcome;
}

/**
 * Copy a file from tape into `destination`: written to a temporary file in the
 * same directory and renamed into place only after the CRC matched; on any
 * failure the temporary file is removed and nothing is left behind.
 */
export async function readFromTape(api: ApiClient, ticket: Ticket, destination: string, progress: Progress | null, sink: 'file' | 'discard' = 'file'): Promise<TransferOutcome> {
  const temp = path.join(path.dirname(destination), `.${path.basename(destination)}.encp-${randomBytes(4).toString('hex')}`);
  try {
    const outcome = await serve(api, ticket, connectToMover, async ({ reader }) => {
      const sum = new Adler32();
      // Local disk trouble (no space, no permission) is final: retrying elsewhere cannot help.
      const local = (err: unknown): EncpFailure => localWriteFailure(err, destination, onDisk, ticket.size);
      /** Bytes the file system has taken (for the message when it stops taking them). */
      let onDisk = 0;
      const out = sink === 'file' ? await fs.open(temp, 'w', 0o644).catch((err) => { throw local(err); }) : null;
      let got = 0;
      progress?.start(ticket.size);
      // Socket chunks are gathered into one of two pooled buffers; one is
      // written to the file while the other fills (few large writes, no fresh memory).
      const bufs = out ? [takeBuffer(), takeBuffer()] : [];
      let cur = 0;
      let fill = 0;
      let pending: Promise<void> | null = null;
      // The copy must be on disk before it is renamed into place. Syncing
      // every SYNC_EVERY bytes as we go, in the background, lets the disk
      // write while the rest arrives, instead of one long fsync at the end
      // (the kernel alone starts writing back only at ~10 % of RAM dirty).
      let written = 0;
      let syncedUpTo = 0;
      let syncing: Promise<void> | null = null;
      const flush = async (): Promise<void> => {
        if (pending) await pending;
        const n = fill;
        pending = writeFully(out!, bufs[cur]!.subarray(0, n), (k) => (onDisk += k)).catch((err) => { throw local(err); });
        pending.catch(noop); // awaited at the next flush or below
        written += n;
        if (written - syncedUpTo >= SYNC_EVERY && syncing === null) {
          syncedUpTo = written;
          const after = pending;
          syncing = after.then(() => out!.datasync()).catch((err) => { throw local(err); }).finally(() => { syncing = null; });
          syncing.catch(noop); // awaited below
        }
        cur ^= 1;
        fill = 0;
      };
      try {
        for await (const chunk of rawBytes(reader, ticket.size)) {
          sum.update(chunk);
          got += chunk.length;
          if (out) {
            for (let at = 0; at < chunk.length; ) {
              const n = Math.min(bufs[cur]!.length - fill, chunk.length - at);
              chunk.copy(bufs[cur]!, fill, at, at + n);
              fill += n;
              at += n;
              if (fill === bufs[cur]!.length) await flush();
            }
          }
          progress?.update(got);
        }
        if (out && fill > 0) await flush();
        if (pending) await pending;
        if (syncing) await syncing;
        if (out) await out.sync().catch((err) => { throw local(err); });
      } finally {
        await (pending as Promise<void> | null)?.catch(noop);
        await (syncing as Promise<void> | null)?.catch(noop);
        await out?.close();
        giveBack(bufs); // every write of them has settled
      }
      const result = await readDataFrame(reader, 'result');
      progress?.stop();
      if (!result.ok) return result;
      const crc = sum.digest();
      if (crc !== ticket.crc || result.crc !== crc || got !== ticket.size) {
        throw fatal('CRC_MISMATCH', `${ticket.path}: the catalogue says adler32 ${ticket.crc}, the mover read ${result.crc}, encp received ${crc} over ${got} bytes`, { bfid: ticket.bfid, volume: ticket.volume, fileNo: ticket.fileNo });
      }
      return result;
    });
    if (sink === 'file') await fs.rename(temp, destination);
    return outcome;
  } finally {
    if (sink === 'file') await fs.rm(temp, { force: true });
  }
}

/**
 * A failed write of the local copy. A full disk (or quota) is NOSPACE, so a
 * script can tell "make room and run again" from a wrong path or permission
 * (USERERROR). The message says that nothing was left behind: the caller
 * removes the temporary file, and the destination is only ever created by
 * the final rename.
 */
function localWriteFailure(err: unknown, destination: string, written: number, size: number): EncpFailure {
  const errno = (err as NodeJS.ErrnoException)?.code;
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    const why = errno === 'EDQUOT' ? 'disk quota exceeded' : 'no space left on the local disk';
    return fatal('NOSPACE', `${why}: it took ${written} of the file's ${size} bytes; the partial copy was removed and nothing was left at ${destination}. Free space there and run encp again.`, { destination, written, size, errno });
  }
  return fatal('USERERROR', `cannot write ${destination}: ${(err as Error).message}`, { destination });
}

/** adler32 of a local file (for --ecrc on reads). */
export async function fileAdler32(localPath: string): Promise<number> {
  const sum = new Adler32();
  const fh = await fs.open(localPath, 'r');
  try {
    const buf = takeBuffer();
    for (let at = 0; ; ) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, at);
      if (bytesRead === 0) break;
      sum.update(buf.subarray(0, bytesRead));
      at += bytesRead;
    }
    giveBack([buf]);
  } finally {
    await fh.close();
  }
  return sum.digest();
}
