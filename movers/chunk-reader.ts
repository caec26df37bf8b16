/**
 * Pull bytes from an async iterable of chunks in the sizes a parser wants:
 * views into the chunks where possible (the data path never copies file
 * bytes), one small copy when a header straddles two chunks.
 */
export class ChunkReader {
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  private finished = false;
  private readonly it: AsyncIterator<Uint8Array>;
  /** Bytes handed out so far. */
  consumed = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Up to `max` (> 0) bytes as a view into the current chunk; null at the end of the source. */
  async take(max: number): Promise<Buffer | null> {
    while (this.pos >= this.chunk.length) {
      if (this.finished) return null;
      const r = await this.it.next();
      if (r.done === true) {
        this.finished = true;
        return null;
      }
      const v = r.value;
      this.chunk = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      this.pos = 0;
    }
    const n = Math.min(max, this.chunk.length - this.pos);
    const out = this.chunk.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.consumed += n;
    return out;
  }

  /** Exactly `n` bytes, or fewer only at the end of the source (the caller decides whether that is an error). */
  async exactly(n: number): Promise<Buffer> {
    const first = await this.take(n);
    if (first === null) return Buffer.alloc(0);
    if (first.length === n) return first;
    const out = Buffer.allocUnsafe(n);
    first.copy(out);
    let filled = first.length;
    while (filled < n) {
      const c = await this.take(n - filled);
      if (c === null) return out.subarray(0, filled);
      c.copy(out, filled);
      filled += c.length;
    }
    return out;
  }

  /** Release the source early (e.g. the consumer stopped reading). */
  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.it.return?.();
  }
}
