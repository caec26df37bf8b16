/** Parsers for the human units of tapestry.yaml. Each returns null on bad input so the checker can report it. */

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, pb: 1e15,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, pib: 2 ** 50,
};

/** `18TB`, `256KiB`, `1.5 GB`, or a plain integer number of bytes. */
export function parseSize(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (typeof value !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m) return null;
  const unit = (m[2] ?? '').toLowerCase();
  const factor = unit === '' ? 1 : SIZE_UNITS[unit];
  if (factor === undefined) return null;
  const bytes = Math.round(Number(m[1]) * factor);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** `400MB/s`, `unlimited` (→ `'unlimited'`), or a number of bytes per second. */
export function parseRate(value: unknown): number | 'unlimited' | null {
  if (value === 'unlimited') return 'unlimited';
  if (typeof value === 'number') return value > 0 ? value : null;
  if (typeof value !== 'string') return null;
  const m = /^(.*)\/s$/.exec(value.trim());
  const bytes = parseSize(m ? m[1] : value);
  return bytes !== null && bytes > 0 ? bytes : null;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, min: 60_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `16s`, `250ms`, `15min`, `2h`, `30d`, or a number of seconds; returns milliseconds. */
export function parseDuration(value: unknown): number | null {
  if (typeof value === 'number') return value >= 0 && Number.isFinite(value) ? value * 1000 : null;
  if (typeof value !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/.exec(value);
  if (!m) return null;
  const factor = m[2] === '' ? 1000 : DURATION_UNITS[m[2]!];
  return factor === undefined ? null : Number(m[1]) * factor;
}

/** `1-20` or `7` → inclusive integer range. */
export function parseIntRange(value: unknown): { first: number; last: number } | null {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? { first: value, last: value } : null;
  if (typeof value !== 'string') return null;
  const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(value);
  if (!m) return null;
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  return first >= 1 && last >= first ? { first, last } : null;
}

/**
 * `TS0001L9-TS0020L9` → the 20 labels in between: the first run of digits
 * counts up (the L9 media suffix stays), prefix and suffix must match and the width is kept.
 */
export function expandLabelRange(value: string): string[] | string {
  const [from, to, extra] = value.split('-').map((s) => s.trim());
  if (extra !== undefined || !from) return `"${value}" is not a label or a label range like TS0001L9-TS0020L9`;
  if (to === undefined) return [from];
  const re = /^(\D*)(\d+)(.*)$/;
  const a = re.exec(from);
  const b = re.exec(to);
  if (!a || !b || a[1] !== b[1] || a[3] !== b[3] || a[2]!.length !== b[2]!.length) {
    return `label range "${value}": both ends need the same prefix, suffix and digit count (e.g. TS0001L9-TS0020L9)`;
  }
  const first = Number(a[2]);
  const last = Number(b[2]);
  if (last < first) return `label range "${value}" counts down`;
  if (last - first >= 100_000) return `label range "${value}" is too long`;
  const width = a[2]!.length;
  const labels: string[] = [];
  for (let n = first; n <= last; n++) labels.push(`${a[1]}${String(n).padStart(width, '0')}${a[3]}`);
  return labels;
}
