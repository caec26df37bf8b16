import { TapestryError } from '../src/errors/index.ts';

/**
 * Report arguments as operators type them, checked once here (the REST routes
 * call these, so the API and the CLI refuse the same things with the same words).
 */

// A deleted volume keeps its files under `LABEL.deleted` (the volume lifecycle renames it).
const LABEL = /^[A-Z0-9]{6,8}(\.deleted)?$/;
const NAME = /^[-A-Za-z0-9_]+$/;
/** Most volumes one `files` report lists. */
export const MAX_VOLUMES = 100;

/** Volume labels, each checked, duplicates dropped, order kept. */
export function parseLabels(labels: readonly string[]): string[] {
  if (labels.length === 0) throw new TapestryError('USERERROR', 'name at least one volume (--volume TS0001L9)');
  for (const l of labels) {
    if (!LABEL.test(l)) throw new TapestryError('USERERROR', `${JSON.stringify(l)} is not a volume label (6 to 8 capital letters and digits, e.g. TS0001L9)`, { context: { volume: l } });
  }
  const unique = [...new Set(labels)];
  if (unique.length > MAX_VOLUMES) throw new TapestryError('USERERROR', `at most ${MAX_VOLUMES} volumes in one report, got ${unique.length}`);
  return unique;
}

export interface FamilySelector {
  readonly fileFamily: string;
  /** Set when a whole volume family `sg.ff.wrapper` was given. */
  readonly storageGroup?: string;
  readonly wrapper?: string;
}

/** A file family (`raw`) or a whole volume family (`cms.raw.cpio_odc`). */
export function parseFamily(text: string): FamilySelector {
  const parts = text.split('.');
  if (parts.length === 1 && NAME.test(text)) return { fileFamily: text };
  if (parts.length === 3 && parts.every((p) => NAME.test(p))) return { storageGroup: parts[0]!, fileFamily: parts[1]!, wrapper: parts[2]! };
  throw new TapestryError('USERERROR', `${JSON.stringify(text)} is neither a file family (letters, digits, - and _) nor a volume family storage_group.file_family.wrapper`, { context: { family: text } });
}

const AGE_UNITS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 };

/**
 * A point in time for `--older-than`: a date (`2024-05-01`, midnight UTC), a
 * date and time (`2024-05-01T12:00:00Z`; UTC when no zone is given), or an age
 * back from `now` (`12h`, `90d`, `8w`, `1y`).
 */
export function parseCutoff(text: string, now: number): Date {
  const t = text.trim();
  const age = /^([0-9]{1,6})([hdwy])$/.exec(t);
  if (age) return new Date(now - Number(age[1]) * AGE_UNITS[age[2]!]!);
  const day = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(t);
  if (day) {
    const [y, m, d] = [Number(day[1]), Number(day[2]), Number(day[3])];
    const date = new Date(Date.UTC(y, m - 1, d));
    // Date.UTC rolls 2024-02-30 over into March: refuse dates that do not exist.
    if (date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d) return date;
  } else if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$/i.test(t)) {
    const zoned = /(Z|[+-][0-9]{2}:?[0-9]{2})$/i.test(t) ? t : `${t}Z`;
    const ms = Date.parse(zoned.replace(' ', 'T'));
    if (Number.isFinite(ms)) return new Date(ms);
  }
  throw new TapestryError('USERERROR', `${JSON.stringify(text)} is not a date (2024-05-01), a date and time (2024-05-01T12:00:00Z) or an age (12h, 90d, 8w, 1y)`, {
    context: { value: text },
  });
}
