/**
 * Length-delimited frames (DESIGN §5): a uint32 big-endian payload length,
 * then the payload (one protobuf message). Used on the mover session and on
 * the data channel before and after the raw bytes.
 *
 * FrameDecoder carries partial frames across chunks (TCP delivers bytes, not
 * messages) and rejects a zero or oversize length as soon as the 4 length
 * bytes are in, before buffering any payload: a peer speaking HTTP or sending
 * garbage gets MALFORMED, and the caller closes the connection. After an error
 * the decoder stays failed.
 */
import { TapestryError } from '../errors/index.ts';

export const FRAME_HEADER_BYTES = 4;
/** Default largest payload accepted; protocol messages are a few hundred bytes. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/** The frame bytes for one payload. */
export function encodeFrame(payload: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Buffer {
  if (payload.length === 0 || payload.length > maxFrameBytes) {
    throw new TapestryError('INTERNAL', `cannot frame a ${payload.length}-byte payload (1..${maxFrameBytes})`);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

export class FrameDecoder {
  /** Buffered chunks; chunks[first] is consumed from `offset` on. */
  private chunks: Buffer[] = [];
  private first = 0;
  private offset = 0;
  private size = 0;
  private failure: TapestryError | null = null;

  constructor(readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    if (!(Number.isSafeInteger(maxFrameBytes) && maxFrameBytes > 0 && maxFrameBytes <= 0xffff_ffff)) {
      throw new RangeError(`maxFrameBytes must be 1..2^32-1, got ${maxFrameBytes}`);
    }
  }

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.size;
  }

  /** Append bytes from the peer. The decoder keeps a reference; do not reuse `chunk`. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.size += chunk.length;
  }

  /**
   * The next complete payload, or null when more bytes are needed. The payload
   * may share memory with a pushed chunk. Throws MALFORMED (and stays failed)
   * on a zero-length or oversize frame.
   */
  next(): Buffer | null {
    if (this.failure !== null) throw this.failure;
    if (this.size < FRAME_HEADER_BYTES) return null;
    const length = this.peekLength();
    if (length === 0 || length > this.maxFrameBytes) {
      this.failure = new TapestryError(
        'MALFORMED',
        length === 0 ? 'zero-length frame' : `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`,
        { context: { length, max: this.maxFrameBytes } },
      );
      throw this.failure;
    }
    if (this.size < FRAME_HEADER_BYTES + length) return null;
    this.take(FRAME_HEADER_BYTES);
    return this.take(length);
  }

  /**
   * push() then every complete frame. Frames before a bad one are still
   * returned; the error is thrown by this call when there are none, else by
   * the next call (the decoder stays failed).
   */
  feed(chunk: Uint8Array): Buffer[] {
    this.push(chunk);
    const frames: Buffer[] = [];
    try {
      for (let f = this.next(); f !== null; f = this.next()) frames.push(f);
    } catch (err) {
      if (frames.length === 0) throw err;
    }
    return frames;
  }

  /**
   * Hand over the bytes buffered beyond the frames taken so far and empty the
   * decoder: on the data channel the raw file bytes follow the header frame,
   * possibly in the same TCP chunk.
   */
  takeRemainder(): Buffer {
    return this.take(this.size);
  }

  private peekLength(): number {
    const c = this.chunks[this.first]!;
    if (c.length - this.offset >= FRAME_HEADER_BYTES) return c.readUInt32BE(this.offset);
    // The 4 length bytes straddle chunks: gather them without consuming.
    let value = 0;
    let i = this.first;
    let at = this.offset;
    for (let n = 0; n < FRAME_HEADER_BYTES; n++) {
      while (at >= this.chunks[i]!.length) {
        i++;
        at = 0;
      }
      value = value * 256 + this.chunks[i]![at++]!;
    }
    return value;
  }

  /** Remove `n` ≤ size bytes from the front: a view when they lie in one chunk, else one copy. */
  private take(n: number): Buffer {
    const head = this.chunks[this.first];
    let out: Buffer;
    if (n === 0 || head === undefined) {
      out = Buffer.alloc(0);
    } else if (head.length - this.offset >= n) {
      out = head.subarray(this.offset, this.offset + n);
      this.offset += n;
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[this.first]!;
        const k = Math.min(c.length - this.offset, n - filled);
        c.copy(out, filled, this.offset, this.offset + k);
        filled += k;
        this.offset += k;
        if (this.offset === c.length) this.advance();
      }
    }
    if (head !== undefined && this.offset === head.length && this.chunks[this.first] === head) this.advance();
    this.size -= n;
    return out;
  }

  private advance(): void {
    this.first++;
    this.offset = 0;
    // Drop consumed chunks in one go rather than shift() per chunk.
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first >= 1024) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}
