/** Small helpers for tests of the streaming data path. */

/** Yield `buf` in random pieces of 1..maxPiece bytes (views, no copies). */
export async function* pieces(buf: Buffer, maxPiece = 70_000): AsyncGenerator<Buffer, void, undefined> {
  for (let at = 0; at < buf.length; ) {
    const n = Math.min(buf.length - at, 1 + Math.floor(Math.random() * maxPiece));
    yield buf.subarray(at, at + n);
    at += n;
  }
}

/** Everything an async iterable yields, concatenated (tests only: bounded sizes). */
export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}
