/**
 * Incremental splitter for the robot's ASCII line protocol. Serial reads arrive
 * in arbitrary pieces (one byte, half a line, three lines and a half), so the
 * splitter carries the unterminated tail across `push` calls, like
 * node-postgres' pg-protocol parser carries a partial frame.
 *
 * It never throws on input: an oversize or non-printable line becomes an
 * `error` item in sequence with the good lines, so the caller can answer it
 * (`* ERR 1 SYNTAX …`) and carry on with the next line.
 */
import { MAX_LINE_BYTES } from './robot-protocol.ts';

export type SplitItem =
  | { readonly kind: 'line'; readonly text: string }
  /** `head` is the printable start of the bad line (≤ 16 chars), enough to recover its tag. */
  | { readonly kind: 'error'; readonly reason: string; readonly head: string };

const LF = 0x0a;
const CR = 0x0d;
const HEAD_BYTES = 16;

function isPrintable(byte: number): boolean {
  return byte >= 0x20 && byte <= 0x7e;
}

function printableHead(bytes: Buffer): string {
  let head = '';
  for (const b of bytes.subarray(0, HEAD_BYTES)) {
    if (!isPrintable(b)) break;
    head += String.fromCharCode(b);
  }
  return head;
}

export class LineSplitter {
  /** Bytes after the last LF seen; never longer than maxBytes + 1 (room for a CR). */
  private tail: Buffer = Buffer.alloc(0);
  /** Inside an oversize line already reported: drop bytes up to the next LF. */
  private discarding = false;

  constructor(private readonly maxBytes = MAX_LINE_BYTES) {}

  /** Feed a chunk; returns the items completed by it, in order. */
  push(chunk: Buffer): SplitItem[] {
    const out: SplitItem[] = [];
    let start = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, start);
      if (lf === -1) break;
      if (this.discarding) {
        this.discarding = false;
      } else {
        const piece = chunk.subarray(start, lf);
        // Copy only when a tail is carried over; the common case stays zero-copy.
        out.push(this.finish(this.tail.length === 0 ? piece : Buffer.concat([this.tail, piece])));
      }
      this.tail = Buffer.alloc(0);
      start = lf + 1;
    }
    if (start < chunk.length && !this.discarding) {
      const rest = chunk.subarray(start);
      const pending = this.tail.length === 0 ? Buffer.from(rest) : Buffer.concat([this.tail, rest]);
      // maxBytes of content plus a CR may still end well; one byte more cannot.
      if (pending.length > this.maxBytes + 1) {
        out.push({ kind: 'error', reason: `line longer than ${this.maxBytes} bytes`, head: printableHead(pending) });
        this.discarding = true;
        this.tail = Buffer.alloc(0);
      } else {
        this.tail = pending;
      }
    }
    return out;
  }

  /** Bytes held waiting for a terminator (for tests and diagnostics). */
  get buffered(): number {
    return this.tail.length;
  }

  /** Forget any partial line, e.g. after the port was reopened. */
  reset(): void {
    this.tail = Buffer.alloc(0);
    this.discarding = false;
  }

  /** Validate one line (LF already removed; a single trailing CR is the CRLF's). */
  private finish(raw: Buffer): SplitItem {
    const line = raw.length > 0 && raw[raw.length - 1] === CR ? raw.subarray(0, raw.length - 1) : raw;
    if (line.length > this.maxBytes) {
      return { kind: 'error', reason: `line longer than ${this.maxBytes} bytes`, head: printableHead(line) };
    }
    for (let i = 0; i < line.length; i++) {
      const b = line[i]!;
      if (!isPrintable(b)) {
        return { kind: 'error', reason: `non-printable byte 0x${b.toString(16).padStart(2, '0')} at column ${i + 1}`, head: printableHead(line) };
      }
    }
    // All bytes are ASCII here, so latin1 decoding is exact and cannot throw.
    return { kind: 'line', text: line.toString('latin1') };
  }
}
