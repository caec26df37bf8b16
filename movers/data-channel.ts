import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { TapestryError, type ErrorCode } from '../src/errors/index.ts';
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, decodeDataMessage, encodeDataMessage, encodeFrame, type DataBodies, type DataMessage, type DataType } from '../src/protocol/index.ts';
import { ChunkReader } from './chunk-reader.ts';

/**
 * The encp ↔ mover data channel (DESIGN §5): a header frame, then the raw file
 * bytes (exactly `size` of them), then a trailer frame (writes) and a result
 * frame from the mover. Frames are length-delimited protobuf messages; the raw
 * bytes between them are not framed, so the data path copies nothing.
 */

/** Read one frame and check that it is the expected message type. */
export async function readDataFrame<K extends DataType>(reader: ChunkReader, expected: K): Promise<DataBodies[K]> {
  const head = await reader.exactly(FRAME_HEADER_BYTES);
  if (head.length < FRAME_HEADER_BYTES) throw new TapestryError('MALFORMED', `the data channel closed where a ${expected} frame was expected`);
  const length = head.readUInt32BE(0);
  if (length === 0 || length > DEFAULT_MAX_FRAME_BYTES) throw new TapestryError('MALFORMED', `bad ${expected} frame length ${length}`);
  const payload = await reader.exactly(length);
  if (payload.length < length) throw new TapestryError('MALFORMED', `the data channel closed inside a ${expected} frame`);
  const msg: DataMessage = decodeDataMessage(payload);
  if (msg.type !== expected) throw new TapestryError('MALFORMED', `expected a ${expected} frame, got ${msg.type}`);
  return (msg as unknown as Record<K, DataBodies[K]>)[expected];
}

/**
 * Answer a data connection with a failed result and close it. The peer gets a
 * grace period to read the answer and hang up; then the socket is destroyed,
 * so a peer that keeps sending cannot hold it open.
 */
export function answerError(socket: Socket, error: { code: ErrorCode; message: string }, about: { bfid?: string | null; volume?: string | null } = {}): void {
  if (socket.destroyed) return;
  socket.end(dataFrame('result', { ok: false, code: error.code, message: error.message, bfid: about.bfid ?? null, crc: 0, size: 0, volume: about.volume ?? null, fileNo: 0 }));
  setTimeout(() => socket.destroy(), ANSWER_GRACE_MS).unref();
}

const ANSWER_GRACE_MS = 2000;

export function dataFrame<K extends DataType>(type: K, body: DataBodies[K]): Buffer {
  return encodeFrame(encodeDataMessage({ type, [type]: body } as unknown as DataMessage));
}

/** Exactly `size` raw bytes from the reader, as views; MALFORMED when the peer stops short. */
export async function* rawBytes(reader: ChunkReader, size: number): AsyncGenerator<Buffer, void, undefined> {
  let left = size;
  while (left > 0) {
    const chunk = await reader.take(Math.min(left, 4 * 1024 * 1024));
    if (chunk === null) throw new TapestryError('MALFORMED', `the data channel closed after ${size - left} of ${size} bytes`, { context: { size, received: size - left } });
    left -= chunk.length;
    yield chunk;
  }
}

/**
 * Write and resolve once the socket has handed `chunk` to the kernel, so its
 * buffer may be reused (a plain write() may still hold a reference to it).
 */
export function sendChunk(socket: Socket, chunk: Uint8Array): Promise<void> {
  const sent = new Promise<void>((resolve, reject) => {
    if (socket.destroyed) {
      reject(new TapestryError('UNAVAILABLE', 'the data channel closed while sending'));
      return;
    }
    // A peer that goes away mid-file (encp killed, disk full) must end the
    // transfer as the client's failure (UNAVAILABLE), never count against the
    // drive, and never leave us waiting: a write callback does not always run
    // when the socket closes under it, so 'close' settles it too.
    const onClose = (): void => reject(new TapestryError('UNAVAILABLE', 'the data channel closed while sending'));
    socket.once('close', onClose);
    socket.write(chunk, (err) => {
      socket.off('close', onClose);
      if (err) reject(new TapestryError('UNAVAILABLE', `the data channel broke while sending: ${err.message}`, { cause: err }));
      else resolve();
    });
  });
  sent.catch(() => undefined); // callers await it before reusing the buffer; never unhandled meanwhile
  return sent;
}

/** Write with backpressure: wait for 'drain' when the socket's buffer is full. */
export async function writeAll(out: Writable, chunk: Uint8Array): Promise<void> {
  // A stream already destroyed emits neither 'drain' nor 'close' again (nor
  // 'error' for this write): waiting for them would wait forever — e.g. encp
  // sending its trailer after the mover failed mid-file and closed the channel.
  const closed = (): TapestryError => new TapestryError('UNAVAILABLE', 'the data channel closed while sending');
  if (out.destroyed || out.writableEnded) throw closed();
  if (out.write(chunk)) return;
  if (out.destroyed) throw closed();
  await new Promise<void>((resolve, reject) => {
    const onDrain = (): void => { cleanup(); resolve(); };
    const onError = (err: Error): void => { cleanup(); reject(new TapestryError('UNAVAILABLE', `the data channel broke while sending: ${err.message}`, { cause: err })); };
    const onClose = (): void => { cleanup(); reject(new TapestryError('UNAVAILABLE', 'the data channel closed while sending')); };
    const cleanup = (): void => {
      out.off('drain', onDrain);
      out.off('error', onError);
      out.off('close', onClose);
    };
    out.on('drain', onDrain);
    out.on('error', onError);
    out.on('close', onClose);
  });
}
