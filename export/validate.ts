/**
 * Strict reading of a `<label>.metadata.json` document (docs/export-format.md).
 * Pure: no I/O. Every problem is collected with the JSON path it concerns, so
 * an operator fixing a hand-edited or foreign file sees all of them at once.
 *
 * Strict means: unknown keys are refused (a typo must not silently drop a
 * field), every required key must be present with the right type, and the
 * cross-field rules hold (positions unique and below end-of-data, paths
 * unique, adler32_hex equal to adler32, sanity size and checksum together).
 * A document of another format or a version this code does not know is
 * refused with that one problem: its fields may mean something else.
 */
import { TapestryError } from '../src/errors/index.ts';
import { parsePath } from '../src/namespace/paths.ts';
import { validateName } from '../src/namespace/tags.ts';
import { cpioName, CPIO_ODC_MAX_FILE_SIZE } from '../movers/cpio-odc.ts';
import {
  adler32Hex, METADATA_FORMAT, METADATA_VERSION, WRAPPER_CPIO_ODC,
  type DeletedEntry, type FileEntry, type VolumeInfo, type VolumeMetadata,
} from './format.ts';

/** What VOL1 can carry (movers/vol1.ts). */
const VOL1_LABEL_RE = /^[A-Za-z0-9_-]{1,14}$/;
const HEX8_RE = /^[0-9a-f]{8}$/;
const MAX_U32 = 0xffff_ffff;
/** uid and gid are kept in 32-bit signed columns of the catalogue. */
const MAX_ID = 0x7fff_ffff;

type Json = Record<string, unknown>;

/** Collects problems; each reader returns a usable placeholder so checking can go on. */
class Checker {
  readonly problems: string[] = [];

  add(at: string, message: string): void {
    this.problems.push(`${at}: ${message}`);
  }

  object(value: unknown, at: string): Json | null {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
    this.add(at, `must be an object, got ${describe(value)}`);
    return null;
  }

  keys(obj: Json, at: string, allowed: readonly string[]): void {
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) this.add(`${at}.${k}`, 'unknown field');
    for (const k of allowed) if (!(k in obj)) this.add(`${at}.${k}`, 'missing');
  }

  string(obj: Json, key: string, at: string, options: { nullable?: boolean; check?: (s: string) => string | null } = {}): string | null {
    const v = obj[key];
    if (!(key in obj)) return null; // reported by keys()
    if (v === null && options.nullable) return null;
    if (typeof v !== 'string') {
      this.add(`${at}.${key}`, `must be a string${options.nullable ? ' or null' : ''}, got ${describe(v)}`);
      return null;
    }
    const why = options.check?.(v) ?? null;
    if (why !== null) this.add(`${at}.${key}`, why);
    return v;
  }

  integer(obj: Json, key: string, at: string, options: { min?: number; max?: number; nullable?: boolean } = {}): number | null {
    const v = obj[key];
    if (!(key in obj)) return null;
    if (v === null && options.nullable) return null;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      this.add(`${at}.${key}`, `must be a whole number${options.nullable ? ' or null' : ''}, got ${describe(v)}`);
      return null;
    }
    if (options.min !== undefined && v < options.min) this.add(`${at}.${key}`, `must be at least ${options.min}, got ${v}`);
    if (options.max !== undefined && v > options.max) this.add(`${at}.${key}`, `must be at most ${options.max}, got ${v}`);
    return v;
  }

  array(obj: Json, key: string, at: string): unknown[] {
    const v = obj[key];
    if (!(key in obj)) return [];
    if (!Array.isArray(v)) {
      this.add(`${at}.${key}`, `must be an array, got ${describe(v)}`);
      return [];
    }
    return v;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

const isoDate = (s: string): string | null => (Number.isNaN(Date.parse(s)) || !/^\d{4}-\d\d-\d\dT/.test(s) ? `not an ISO 8601 date-time: ${JSON.stringify(s)}` : null);
const familyName = (tag: string) => (s: string): string | null => {
  try {
    validateName(tag, s);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
};

/** The namespace path rules (absolute, no '..', no empty names) and what a cpio header can hold. */
function nsPath(s: string): string | null {
  try {
    if (parsePath(s).path !== s) return `not in normal form (expected ${JSON.stringify(parsePath(s).path)})`;
    cpioName(s);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

const VOLUME_KEYS = ['label', 'media_type', 'block_size', 'wrapper', 'storage_group', 'file_family', 'library', 'capacity_bytes', 'eod_file_no'] as const;
const FILE_KEYS = ['file_no', 'path', 'size', 'adler32', 'adler32_hex', 'uid', 'gid', 'user', 'created_at', 'modified_at', 'bfid', 'sanity_size', 'sanity_adler32'] as const;
const DELETED_KEYS = ['file_no', 'path', 'size', 'adler32', 'adler32_hex', 'bfid', 'deleted_at'] as const;
const TOP_KEYS = ['format', 'version', 'exported_at', 'exported_by', 'volume', 'files', 'deleted'] as const;

function readVolume(c: Checker, raw: unknown): VolumeInfo | null {
  const at = 'volume';
  const o = c.object(raw, at);
  if (!o) return null;
  c.keys(o, at, VOLUME_KEYS);
  const label = c.string(o, 'label', at, { check: (s) => (VOL1_LABEL_RE.test(s) ? null : 'a VOL1 label has 1 to 14 characters of A-Z a-z 0-9 _ -') });
  const mediaType = c.string(o, 'media_type', at, { check: (s) => (/^[-A-Za-z0-9_]{1,64}$/.test(s) ? null : 'letters, digits, "-" and "_" only') });
  const blockSize = c.integer(o, 'block_size', at, { min: 1, max: MAX_U32 });
  const wrapper = c.string(o, 'wrapper', at, { check: (s) => (s === WRAPPER_CPIO_ODC ? null : `unsupported wrapper ${JSON.stringify(s)} (this version reads ${WRAPPER_CPIO_ODC})`) });
  const storageGroup = c.string(o, 'storage_group', at, { check: familyName('storage_group') });
  const fileFamily = c.string(o, 'file_family', at, { check: familyName('file_family') });
  const library = c.string(o, 'library', at, { nullable: true, check: (s) => (/^[-A-Za-z0-9_]{1,64}$/.test(s) ? null : 'letters, digits, "-" and "_" only') });
  const capacityBytes = c.integer(o, 'capacity_bytes', at, { min: 1, nullable: true });
  const eodFileNo = c.integer(o, 'eod_file_no', at, { min: 1 });
  if (label === null || mediaType === null || blockSize === null || wrapper === null || storageGroup === null || fileFamily === null || eodFileNo === null) return null;
  return { label, mediaType, blockSize, wrapper: WRAPPER_CPIO_ODC, storageGroup, fileFamily, library, capacityBytes, eodFileNo };
}

/** adler32 and its hex form; the hex is redundant, so a disagreement means the document was edited carelessly. */
function readAdler(c: Checker, o: Json, at: string, nullable: boolean): number | null {
  const value = c.integer(o, 'adler32', at, { min: 0, max: MAX_U32, nullable });
  const hex = c.string(o, 'adler32_hex', at, { nullable, check: (s) => (HEX8_RE.test(s) ? null : 'must be 8 lowercase hex digits') });
  if (!('adler32' in o) || !('adler32_hex' in o)) return value;
  if (nullable && o.adler32 === null && o.adler32_hex !== null) c.add(`${at}.adler32_hex`, 'must be null when adler32 is null');
  else if (nullable && o.adler32 !== null && o.adler32_hex === null) c.add(`${at}.adler32_hex`, 'must be set when adler32 is set');
  else if (value !== null && hex !== null && HEX8_RE.test(hex) && adler32Hex(value) !== hex) {
    c.add(`${at}.adler32_hex`, `${hex} does not match adler32 ${value} (= ${adler32Hex(value)})`);
  }
  return value;
}

function readFile(c: Checker, raw: unknown, at: string): FileEntry | null {
  const o = c.object(raw, at);
  if (!o) return null;
  c.keys(o, at, FILE_KEYS);
  const fileNo = c.integer(o, 'file_no', at, { min: 1 });
  const path = c.string(o, 'path', at, { check: nsPath });
  const size = c.integer(o, 'size', at, { min: 0, max: CPIO_ODC_MAX_FILE_SIZE });
  const adler32 = readAdler(c, o, at, false);
  const uid = c.integer(o, 'uid', at, { min: 0, max: MAX_ID });
  const gid = c.integer(o, 'gid', at, { min: 0, max: MAX_ID });
  const user = c.string(o, 'user', at, { nullable: true, check: (s) => (s.length > 0 && s.length <= 64 ? null : 'must be 1 to 64 characters') });
  const createdAt = c.string(o, 'created_at', at, { check: isoDate });
  const modifiedAt = c.string(o, 'modified_at', at, { check: isoDate });
  const bfid = c.string(o, 'bfid', at, { nullable: true, check: (s) => (/^[A-Za-z0-9]{1,64}$/.test(s) ? null : 'letters and digits only') });
  const sanitySize = c.integer(o, 'sanity_size', at, { min: 0, nullable: true });
  const sanityAdler32 = c.integer(o, 'sanity_adler32', at, { min: 0, max: MAX_U32, nullable: true });
  if ('sanity_size' in o && 'sanity_adler32' in o && (o.sanity_size === null) !== (o.sanity_adler32 === null)) c.add(`${at}.sanity_size`, 'sanity_size and sanity_adler32 are both set or both null');
  if (sanitySize !== null && size !== null && sanitySize > size) c.add(`${at}.sanity_size`, `larger than the file (${sanitySize} > ${size})`);
  if (fileNo === null || path === null || size === null || adler32 === null || uid === null || gid === null || createdAt === null || modifiedAt === null) return null;
  if (!('bfid' in o) || !('user' in o) || !('sanity_size' in o) || !('sanity_adler32' in o)) return null;
  return { fileNo, path, size, adler32, uid, gid, user, createdAt, modifiedAt, bfid, sanitySize, sanityAdler32 };
}

function readDeleted(c: Checker, raw: unknown, at: string): DeletedEntry | null {
  const o = c.object(raw, at);
  if (!o) return null;
  c.keys(o, at, DELETED_KEYS);
  const fileNo = c.integer(o, 'file_no', at, { min: 1 });
  const path = c.string(o, 'path', at, { check: nsPath });
  const size = c.integer(o, 'size', at, { min: 0, max: CPIO_ODC_MAX_FILE_SIZE });
  const adler32 = readAdler(c, o, at, true);
  const bfid = c.string(o, 'bfid', at, { nullable: true, check: (s) => (/^[A-Za-z0-9]{1,64}$/.test(s) ? null : 'letters and digits only') });
  const deletedAt = c.string(o, 'deleted_at', at, { nullable: true, check: isoDate });
  if (fileNo === null || path === null || size === null || !('adler32' in o) || !('bfid' in o) || !('deleted_at' in o)) return null;
  return { fileNo, path, size, adler32, bfid, deletedAt };
}

export interface ValidationResult {
  readonly metadata: VolumeMetadata | null;
  /** Every problem, as `json.path: what is wrong`; empty when `metadata` is set. */
  readonly problems: readonly string[];
}

/** Check a parsed JSON document; never throws. */
export function validateMetadata(doc: unknown): ValidationResult {
  const c = new Checker();
  const top = c.object(doc, '$');
  if (!top) return { metadata: null, problems: c.problems };
  if (top.format !== METADATA_FORMAT) {
    return { metadata: null, problems: [`$.format: ${describe(top.format)} is not ${JSON.stringify(METADATA_FORMAT)}; this is not a Tapestry volume metadata file`] };
  }
  if (top.version !== METADATA_VERSION) {
    return {
      metadata: null,
      problems: [`$.version: unsupported version ${describe(top.version)}; this Tapestry reads version ${METADATA_VERSION} (a newer Tapestry wrote it, or it is not a version number)`],
    };
  }
  c.keys(top, '$', TOP_KEYS);
  const exportedAt = c.string(top, 'exported_at', '$', { check: isoDate });
  const exportedBy = c.string(top, 'exported_by', '$', { check: (s) => (s.length > 0 ? null : 'must not be empty') });
  const volume = 'volume' in top ? readVolume(c, top.volume) : null;
  const rawFiles = c.array(top, 'files', '$');
  const rawDeleted = c.array(top, 'deleted', '$');
  const files = rawFiles.map((f, i) => readFile(c, f, `files[${i}]`));
  const deleted = rawDeleted.map((d, i) => readDeleted(c, d, `deleted[${i}]`));

  // Cross-field rules, on every entry whose own field is usable (even when
  // another of its fields is wrong): one entry per position, one live file per
  // path, all below end-of-data.
  const field = <T>(raw: unknown, key: string, ok: (v: unknown) => v is T): T | null => {
    const v = typeof raw === 'object' && raw !== null ? (raw as Json)[key] : undefined;
    return ok(v) ? v : null;
  };
  const isPosition = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
  const isString = (v: unknown): v is string => typeof v === 'string';
  const positions = new Map<number, string>();
  const paths = new Map<string, string>();
  const place = (raw: unknown, at: string): void => {
    const fileNo = field(raw, 'file_no', isPosition);
    if (fileNo === null) return;
    const other = positions.get(fileNo);
    if (other !== undefined) c.add(`${at}.file_no`, `position ${fileNo} is also given to ${other}`);
    else positions.set(fileNo, at);
    if (volume && fileNo >= volume.eodFileNo) c.add(`${at}.file_no`, `${fileNo} is not below the volume's eod_file_no ${volume.eodFileNo}`);
  };
  rawFiles.forEach((f, i) => {
    place(f, `files[${i}]`);
    const p = field(f, 'path', isString);
    if (p === null) return;
    const other = paths.get(p);
    if (other !== undefined) c.add(`files[${i}].path`, `${p} is also the path of ${other}`);
    else paths.set(p, `files[${i}]`);
  });
  rawDeleted.forEach((d, i) => place(d, `deleted[${i}]`));

  if (c.problems.length > 0 || exportedAt === null || exportedBy === null || volume === null) return { metadata: null, problems: c.problems };
  const byPosition = <T extends { fileNo: number }>(a: T, b: T): number => a.fileNo - b.fileNo;
  return {
    metadata: {
      format: METADATA_FORMAT,
      version: METADATA_VERSION,
      exportedAt,
      exportedBy,
      volume,
      files: (files as FileEntry[]).sort(byPosition),
      deleted: (deleted as DeletedEntry[]).sort(byPosition),
    },
    problems: [],
  };
}

/** The metadata in `doc`, or MALFORMED listing every problem (`source` names the file in the message). */
export function parseMetadata(doc: unknown, source = 'metadata'): VolumeMetadata {
  const { metadata, problems } = validateMetadata(doc);
  if (metadata) return metadata;
  const n = problems.length;
  throw new TapestryError('MALFORMED', `${source}: ${n} problem${n === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`, { context: { source, problems } });
}

/** Parse the text of a metadata file: MALFORMED for bad JSON, then as parseMetadata. */
export function parseMetadataText(text: string, source = 'metadata'): VolumeMetadata {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new TapestryError('MALFORMED', `${source}: not JSON (${(cause as Error).message})`, { cause, context: { source } });
  }
  return parseMetadata(doc, source);
}
