import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Adler32 } from '../../src/checksum/adler32.ts';
import { isTapestryError, TapestryError } from '../../src/errors/index.ts';
import { isErrorCode } from '../../src/errors/codes.ts';
import type { DataResult } from '../../src/protocol/index.ts';
import { ChunkReader } from '../../movers/chunk-reader.ts';
import { dataFrame, rawBytes, readDataFrame, writeAll } from '../../movers/data-channel.ts';
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

function connect(address: string): Promise<net.Socket> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** A failure encp itself detected: final, whatever the library manager does next. */
class EncpFailure extends Error {
  constructor(readonly error: TapestryError) {
    super(error.message);
  }
}

const fatal = (code: ConstructorParameters<typeof TapestryError>[0], message: string, context: Record<string, unknown> = {}): EncpFailure =>
  new EncpFailure(new TapestryError(code, message, { context }));

/**
 * Follow a request until a mover is assigned, run the data transfer with it,
 * and repeat with the next assignment when the mover fails in a retryable way:
 * the library manager re-queues the request and counts the attempts; encp
 * never trusts a transfer without a matching result frame (DESIGN §5).
 */
async function serve(api: ApiClient, ticket: Ticket, run: (socket: net.Socket, token: string) => Promise<DataResult>): Promise<TransferOutcome> {
  let known: { state?: string; token?: string } = {};
  let lastError: TapestryError | null = null;
  for (;;) {
    const q = new URLSearchParams({ waitMs: '30000', ...(known.state ? { state: known.state } : {}), ...(known.token ? { token: known.token } : {}) });
    const view = await api.get<RequestView>(`/libraries/${encodeURIComponent(ticket.library)}/requests/${ticket.requestId}?${q.toString()}`);
    known = { state: view.state, ...(view.assignment ? { token: view.assignment.token } : {}) };
    if (view.state === 'failed' || view.state === 'cancelled') {
      const code = view.error && isErrorCode(view.error.code) ? view.error.code : 'INTERNAL';
      throw new TapestryError(code, view.error?.message ?? `request ${ticket.requestId} ${view.state}`, { context: { requestId: ticket.requestId, attempts: view.attempts } });
    }
    if (!view.assignment) {
      if (view.state === 'done') throw lastError ?? new TapestryError('INTERNAL', `request ${ticket.requestId} finished without a transfer by this encp`);
      continue;
    }
    let socket: net.Socket | null = null;
    try {
      socket = await connect(view.assignment.dataAddress);
      const result = await run(socket, view.assignment.token);
      if (!result.ok) {
        const code = result.code ?? 'INTERNAL';
        throw new TapestryError(code, result.message || `the mover reported ${code}`, { context: { mover: view.assignment.mover, volume: result.volume } });
      }
      return { bfid: result.bfid ?? ticket.bfid, size: result.size, crc: result.crc, volume: result.volume ?? view.assignment.volume, fileNo: result.fileNo, mover: view.assignment.mover, attempts: view.attempts };
    } catch (err) {
      // encp's own verdicts (its CRC differs, the local file changed) end the
      // transfer. Anything the mover reported, or a cut connection, is the
      // library manager's to judge: it re-queues the request (a new assignment
      // follows) or fails it (the next poll says with which code).
      if (err instanceof EncpFailure) throw err.error;
      lastError = isTapestryError(err) ? err : new TapestryError('UNAVAILABLE', `data channel to ${view.assignment.mover}: ${(err as Error).message}`, { cause: err });
    } finally {
      socket?.destroy();
    }
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
/** Buffers in flight on the data socket at most, per transfer (bounded memory: RING × CHUNK_BYTES). */
const RING = 4;
const pool: Buffer[] = [];
const takeBuffer = (): Buffer => pool.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES);
/** Only buffers nothing refers to any more (every socket write or file write of them has completed). */
const giveBack = (bufs: readonly Buffer[]): void => {
  for (const b of bufs) if (pool.length < 4 * RING) pool.push(b);
};

const noop = (): void => {};

/** Resolves once the socket has handed `chunk` to the kernel, so its buffer may be reused. */
function sendChunk(socket: net.Socket, chunk: Buffer): Promise<void> {
  const sent = new Promise<void>((resolve, reject) => {
    if (socket.destroyed) {
      reject(new TapestryError('UNAVAILABLE', 'the data channel closed while sending'));
      return;
    }
    socket.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
  sent.catch(noop); // awaited before the buffer is reused; never unhandled meanwhile
  return sent;
}

/** Write all of `buf` at the file's current position. */
async function writeFully(fh: fs.FileHandle, buf: Buffer): Promise<void> {
  for (let done = 0; done < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done);
    done += bytesWritten;
  }
}

/** Stream a local file to tape; returns what the mover registered. Bounded memory: RING reused read buffers. */
export async function writeToTape(api: ApiClient, ticket: Ticket, localPath: string, progress: Progress | null): Promise<TransferOutcome> {
  const outcome = await serve(api, ticket, async (socket, token) => {
    const reader = new ChunkReader(socket);
    await writeAll(socket, dataFrame('header', { token, direction: 'write', size: ticket.size, bfid: ticket.bfid }));
    const sum = new Adler32();
    let sent = 0;
    progress?.start(ticket.size);
    const fh = await fs.open(localPath, 'r');
    const ring = Array.from({ length: RING }, takeBuffer);
    const inFlight: (Promise<void> | null)[] = ring.map(() => null);
    try {
      for (let i = 0; ; i = (i + 1) % RING) {
        await inFlight[i]; // the socket is done with this buffer
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
    const result = await readDataFrame(reader, 'result');
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
    const outcome = await serve(api, ticket, async (socket, token) => {
      const reader = new ChunkReader(socket);
      await writeAll(socket, dataFrame('header', { token, direction: 'read', size: ticket.size, bfid: ticket.bfid }));
      const sum = new Adler32();
      // Local disk trouble (no space, no permission) is final: retrying elsewhere cannot help.
      const local = (err: unknown): EncpFailure => fatal('USERERROR', `cannot write ${destination}: ${(err as Error).message}`, { destination });
      const out = sink === 'file' ? await fs.open(temp, 'w', 0o644).catch((err) => { throw local(err); }) : null;
      let got = 0;
      progress?.start(ticket.size);
      // Socket chunks are gathered into one of two pooled buffers; one is
      // written to the file while the other fills (few large writes, no fresh memory).
      const bufs = out ? [takeBuffer(), takeBuffer()] : [];
      let cur = 0;
      let fill = 0;
      let pending: Promise<void> | null = null;
      const flush = async (): Promise<void> => {
        if (pending) await pending;
        pending = writeFully(out!, bufs[cur]!.subarray(0, fill)).catch((err) => { throw local(err); });
        pending.catch(noop); // awaited at the next flush or below
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
        if (out) await out.sync().catch((err) => { throw local(err); });
      } finally {
        await (pending as Promise<void> | null)?.catch(noop);
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
