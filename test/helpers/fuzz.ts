/**
 * Seeded input generators for the fuzz tests (docs/faults-fuzz.md): a small
 * deterministic PRNG, byte mutators for binary frames, and junk JSON values,
 * strings, numbers and texts for the REST API.
 *
 * Everything derives from one seed per test file, printed at the start;
 * `FUZZ_SEED=<n>` replays a run exactly (same connections, same frames, same
 * requests in the same order — only the server's timing differs).
 */
import { randomInt } from 'node:crypto';

/** The file's seed: `FUZZ_SEED` when set, else a fresh one; printed so a failure can be replayed. */
export function fuzzSeed(label: string): number {
  const env = process.env.FUZZ_SEED;
  const seed = env !== undefined && env !== '' ? Number(env) >>> 0 : randomInt(0, 2 ** 32 - 1);
  console.log(`# [fuzz] ${label}: seed ${seed} (replay with FUZZ_SEED=${seed})`);
  return seed;
}

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Chaotic PRNG): 128 bits of state,
 * good enough statistics for fuzzing and much faster than crypto randomness.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An independent stream (e.g. one per connection), so changing one part of a run does not shift the rest. */
  fork(): Rng {
    return new Rng(this.u32());
  }

  /** 0 ≤ n < max. */
  int(max: number): number {
    return Math.floor((this.u32() / 2 ** 32) * max);
  }

  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (v >>> (8 * k)) & 0xff;
    }
    return out;
  }
}

// --- bytes ------------------------------------------------------------------------------------

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x12, 0x1a, 0x22];

/**
 * 1–4 random edits of `input` (a copy): bit flips, interesting bytes, inserted,
 * deleted or duplicated runs, a truncation. AFL's havoc stage, in small.
 */
export function mutateBytes(rng: Rng, input: Uint8Array): Buffer {
  let buf = Buffer.from(input);
  const edits = rng.range(1, 4);
  for (let e = 0; e < edits; e++) {
    const at = buf.length === 0 ? 0 : rng.int(buf.length);
    switch (rng.int(7)) {
      case 0:
        if (buf.length > 0) buf[at] = buf[at]! ^ (1 << rng.int(8));
        break;
      case 1:
        if (buf.length > 0) buf[at] = rng.pick(INTERESTING_BYTES);
        break;
      case 2:
        if (buf.length > 0) buf[at] = rng.int(256);
        break;
      case 3:
        buf = Buffer.concat([buf.subarray(0, at), rng.bytes(rng.range(1, 16)), buf.subarray(at)]);
        break;
      case 4:
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(Math.min(buf.length, at + rng.range(1, 8)))]);
        break;
      case 5: {
        const len = rng.range(1, 16);
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at, at + len), buf.subarray(at)]);
        break;
      }
      default:
        buf = buf.subarray(0, at);
    }
  }
  return buf;
}

/** A 4-byte big-endian length prefix (the frame layer of src/protocol/frames.ts) followed by `payload`. */
export function lengthPrefixed(payload: Uint8Array, length = payload.length): Buffer {
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(length >>> 0, 0);
  return Buffer.concat([head, payload]);
}

// --- JSON and strings ---------------------------------------------------------------------------

/** Strings that break naive code: huge, NUL, lone surrogates, traversal, SQL, format strings, numbers-as-text. */
export function junkString(rng: Rng): string {
  switch (rng.int(14)) {
    case 0:
      return 'x'.repeat(rng.pick([4097, 65_536, 300_000]));
    case 1:
      return `a\u0000b`;
    case 2:
      return '\ud800\udfff\ud83d'; // a lone high surrogate at the end
    case 3:
      return '../../../../etc/passwd';
    case 4:
      return "' OR 1=1; DROP TABLE volumes; --";
    case 5:
      return '%s%n%x${7*7}{{7*7}}';
    case 6:
      return rng.pick(['99999999999999999999', '-1', '-9223372036854775809', '1e400', 'NaN', 'Infinity', '0x10', '1.5', '']);
    case 7:
      return 'ṱ̶̢ḁ̷p̵e̴ 🧵📼 مرحبا \u202e\ufeff';
    case 8:
      return ' \t\r\n ';
    case 9:
      return '/'.repeat(rng.range(1, 5000));
    case 10:
      return `TS${rng.range(0, 9999)}L9`.padEnd(rng.range(1, 30), 'Z');
    case 11:
      return rng.bytes(rng.range(1, 64)).toString('latin1');
    case 12:
      return '\\u0000\\"\'`';
    default:
      return `fuzz-${rng.u32().toString(36)}`;
  }
}

/** Numbers at the edges: negative, beyond int32/uint32/2^53/int64, fractions, huge floats. */
export function junkNumber(rng: Rng): number {
  return rng.pick([-1, -0, -(2 ** 31), 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53, 2 ** 63, 2 ** 64, 1e308, -1e308, 0.5, 1.5, 123456789012, Number.MIN_VALUE]);
}

/** Any JSON value, nested up to `depth` levels. */
export function junkValue(rng: Rng, depth = 3): unknown {
  const kind = depth <= 0 ? rng.int(4) : rng.int(6);
  switch (kind) {
    case 0:
      return junkString(rng);
    case 1:
      return junkNumber(rng);
    case 2:
      return rng.pick([true, false, null]);
    case 3:
      return rng.pick(['', 0, [], {}]);
    case 4: {
      const out: unknown[] = [];
      for (let i = rng.int(5); i > 0; i--) out.push(junkValue(rng, depth - 1));
      return out;
    }
    default: {
      const out: Record<string, unknown> = {};
      for (let i = rng.int(5); i > 0; i--) out[rng.chance(0.3) ? junkString(rng).slice(0, 100) : `k${rng.int(1000)}`] = junkValue(rng, depth - 1);
      return out;
    }
  }
}

/** A value that no JSON-schema coercion turns into a string, number, integer or boolean. */
export function uncoercible(rng: Rng): unknown {
  return rng.pick<unknown>([{}, { a: 1 }, [1, 2], [[]], { '': null }]);
}

/** A request body text that is not JSON (or is JSON nested deeper than any parser should follow). */
export function invalidJsonText(rng: Rng): string {
  const valid = JSON.stringify(junkValue(rng, 2)) ?? 'null';
  switch (rng.int(9)) {
    case 0:
      return valid.length > 1 ? valid.slice(0, rng.range(1, valid.length - 1)) + (valid.startsWith('{') || valid.startsWith('[') ? '' : '{') : '{';
    case 1:
      return `${valid}}garbage`;
    case 2:
      return "{'single': 'quotes'}";
    case 3:
      return '{"a": NaN, "b": undefined}';
    case 4:
      return '{"a":1,}';
    case 5:
      return '\u0000\u0001\u0002';
    case 6:
      return `{"k":"${'\\u12'}"}`;
    case 7:
      return '['.repeat(rng.pick([1000, 100_000]));
    default:
      return rng.bytes(rng.range(1, 200)).toString('latin1').replace(/^[\s[{"0-9tfn-]/, '#');
  }
}
