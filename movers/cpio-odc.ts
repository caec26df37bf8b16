/**
 * The cpio ODC wrapper (DESIGN §6, reference/enstore.md §8): each file on tape
 * is a one-entry "odc" archive (POSIX.1 / SUSv2 portable ASCII format), so
 * `tapestry tape dump L --file N | cpio -idv` restores it with GNU cpio.
 *
 * Byte layout (all numbers zero-padded octal ASCII, no separators):
 *
 *   offset size field
 *        0    6 magic "070707"
 *        6    6 dev        12 6 ino       18 6 mode      24 6 uid
 *       30    6 gid        36 6 nlink     42 6 rdev
 *       48   11 mtime (seconds since the epoch)
 *       59    6 namesize (bytes of the name including its NUL)
 *       65   11 filesize
 *       76      name, NUL-terminated (the namespace path without its leading '/')
 *               the file's bytes (no alignment in odc)
 *               a second header named "TRAILER!!!" (nlink 1, everything else 0)
 *               NULs up to a multiple of 512 bytes for the whole archive
 *
 * An 11-digit octal filesize caps a file at 8 GiB − 1 (Enstore's limit too).
 * Fields that do not fit their 6 digits: dev and ino wrap (they only need to be
 * unique-ish for hard-link detection, and nlink is 1), uid and gid become
 * 65534 (nobody/nogroup, so a root extraction does not hand the file to root);
 * the catalogue keeps the true values.
 */
import { TapestryError } from '../src/errors/index.ts';
import { ChunkReader } from './chunk-reader.ts';

export const CPIO_ODC_MAGIC = '070707';
export const CPIO_ODC_HEADER_BYTES = 76;
export const CPIO_BLOCK_BYTES = 512;
/** 11 octal digits: 8 GiB − 1. */
export const CPIO_ODC_MAX_FILE_SIZE = 8 ** 11 - 1;
export const CPIO_TRAILER_NAME = 'TRAILER!!!';

const MAX6 = 8 ** 6 - 1;
const NOBODY = 65534;
const REGULAR_FILE = 0o100000;

/** One archive entry, as parsed. */
export interface CpioMeta {
  /** Path inside the archive (no leading '/'). */
  readonly name: string;
  readonly size: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  readonly dev: number;
  readonly ino: number;
  readonly nlink: number;
  readonly rdev: number;
}

/** What a writer gives: name and size; the rest defaults (mode 0644 regular file, mtime 0, ids 0, nlink 1). */
export type CpioMetaInit = Pick<CpioMeta, 'name' | 'size'> & Partial<Omit<CpioMeta, 'name' | 'size'>>;

function malformed(message: string, context: Record<string, unknown> = {}): TapestryError {
  return new TapestryError('MALFORMED', `bad cpio archive: ${message}`, { context });
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width, '0');
}

/** Fit a value to a 6-digit field by the rule in the header comment. */
function fit6(value: number | undefined, fallback: number, onOverflow: 'wrap' | number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 0) return onOverflow === 'wrap' ? 0 : onOverflow;
  if (v <= MAX6) return v;
  return onOverflow === 'wrap' ? v % (MAX6 + 1) : onOverflow;
}

/** Permission bits as given; the file type is always a regular file (the mode a namespace records may lack it). */
function regularMode(mode: number | undefined): number {
  const perms = Number.isSafeInteger(mode) && mode! >= 0 ? mode! & 0o7777 : 0o644;
  return REGULAR_FILE | perms;
}

/** The archive name for a namespace path: no leading '/', no empty, NUL or '..' parts. */
export function cpioName(path: string): string {
  const name = path.replace(/^\/+/, '');
  const parts = name.split('/');
  if (name === '' || name.includes('\0') || parts.includes('..') || name === CPIO_TRAILER_NAME) {
    throw new TapestryError('USERERROR', `cannot store ${JSON.stringify(path)} in a cpio archive`, { context: { path } });
  }
  return name;
}

function checkSize(size: number, name: string): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new TapestryError('USERERROR', `bad file size ${size} for ${name}`, { context: { name, size } });
  if (size > CPIO_ODC_MAX_FILE_SIZE) {
    throw new TapestryError('USERERROR', `${name}: file too large for the cpio_odc wrapper (max 8 GiB − 1 = ${CPIO_ODC_MAX_FILE_SIZE} bytes, got ${size})`, {
      context: { name, size, max: CPIO_ODC_MAX_FILE_SIZE },
    });
  }
}

function header(fields: Omit<CpioMeta, 'name'>, name: string): Buffer {
  const nameBytes = Buffer.byteLength(name) + 1;
  if (nameBytes > MAX6) throw new TapestryError('USERERROR', `path too long for a cpio header (${nameBytes} bytes)`, { context: { name } });
  const text =
    CPIO_ODC_MAGIC +
    octal(fields.dev, 6) + octal(fields.ino, 6) + octal(fields.mode, 6) + octal(fields.uid, 6) +
    octal(fields.gid, 6) + octal(fields.nlink, 6) + octal(fields.rdev, 6) +
    octal(fields.mtime, 11) + octal(nameBytes, 6) + octal(fields.size, 11) +
    name + '\0';
  return Buffer.from(text, 'utf8');
}

/** The header + name bytes that start an archive for `meta`. USERERROR for a bad name or a file over 8 GiB − 1. */
export function cpioHeader(meta: CpioMetaInit): Buffer {
  const name = cpioName(meta.name);
  checkSize(meta.size, name);
  const mtime = Math.max(0, Math.min(Math.floor(meta.mtime ?? 0), 8 ** 11 - 1));
  return header(
    {
      size: meta.size,
      mode: regularMode(meta.mode),
      uid: fit6(meta.uid, 0, NOBODY),
      gid: fit6(meta.gid, 0, NOBODY),
      mtime: Number.isFinite(mtime) ? mtime : 0,
      dev: fit6(meta.dev, 0, 'wrap'),
      ino: fit6(meta.ino, 0, 'wrap'),
      nlink: fit6(meta.nlink, 1, 1),
      rdev: fit6(meta.rdev, 0, 'wrap'),
    },
    name,
  );
}

const TRAILER = header({ size: 0, mode: 0, uid: 0, gid: 0, mtime: 0, dev: 0, ino: 0, nlink: 1, rdev: 0 }, CPIO_TRAILER_NAME);

/** The TRAILER!!! entry plus the NULs that pad the archive to a multiple of 512, given the bytes before it. */
export function cpioTrailer(bytesSoFar: number): Buffer {
  const end = bytesSoFar + TRAILER.length;
  const pad = (CPIO_BLOCK_BYTES - (end % CPIO_BLOCK_BYTES)) % CPIO_BLOCK_BYTES;
  const out = Buffer.alloc(TRAILER.length + pad);
  TRAILER.copy(out);
  return out;
}

/** Total archive bytes for a file: what it will take on tape (before blocking). */
export function cpioArchiveSize(meta: Pick<CpioMeta, 'name' | 'size'>): number {
  const unpadded = cpioHeader(meta).length + meta.size + TRAILER.length;
  return Math.ceil(unpadded / CPIO_BLOCK_BYTES) * CPIO_BLOCK_BYTES;
}

function sizeMismatch(name: string, expected: number, got: string): TapestryError {
  return new TapestryError('BAD_FILE_SIZE', `${name}: expected ${expected} bytes, the source ${got}`, { context: { name, expected } });
}

/**
 * The archive bytes for `meta` with the data from `source`, streaming: the
 * header, the source's chunks as they are (no copy), the trailer. Throws
 * BAD_FILE_SIZE as soon as the source runs past `meta.size` (the extra chunk
 * is not yielded) or ends short of it.
 */
export async function* wrapCpio(meta: CpioMetaInit, source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer, void, undefined> {
  const head = cpioHeader(meta);
  yield head;
  let n = 0;
  for await (const chunk of source) {
    n += chunk.length;
    if (n > meta.size) throw sizeMismatch(meta.name, meta.size, `yielded at least ${n}`);
    if (chunk.length > 0) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  if (n !== meta.size) throw sizeMismatch(meta.name, meta.size, `ended after ${n}`);
  yield cpioTrailer(head.length + n);
}

const FIELDS = [
  ['dev', 6, 6], ['ino', 12, 6], ['mode', 18, 6], ['uid', 24, 6], ['gid', 30, 6], ['nlink', 36, 6],
  ['rdev', 42, 6], ['mtime', 48, 11], ['namesize', 59, 6], ['filesize', 65, 11],
] as const;

type RawHeader = Record<(typeof FIELDS)[number][0], number>;

function parseHeader(buf: Buffer, at: number): RawHeader {
  if (buf.length < CPIO_ODC_HEADER_BYTES) throw malformed(`truncated header at byte ${at}`, { at });
  if (buf.toString('latin1', 0, 6) !== CPIO_ODC_MAGIC) {
    throw malformed(`no odc magic ${CPIO_ODC_MAGIC} at byte ${at} (found ${JSON.stringify(buf.toString('latin1', 0, 6))})`, { at });
  }
  const out: Partial<RawHeader> = {};
  for (const [field, start, width] of FIELDS) {
    const text = buf.toString('latin1', start, start + width);
    if (!/^[0-7]+$/.test(text)) throw malformed(`header field ${field} at byte ${at + start} is not octal: ${JSON.stringify(text)}`, { at });
    out[field] = parseInt(text, 8);
  }
  return out as RawHeader;
}

async function readEntry(reader: ChunkReader): Promise<{ raw: RawHeader; name: string }> {
  const at = reader.consumed;
  const raw = parseHeader(await reader.exactly(CPIO_ODC_HEADER_BYTES), at);
  if (raw.namesize < 1) throw malformed(`empty name at byte ${at}`, { at });
  const nameBuf = await reader.exactly(raw.namesize);
  if (nameBuf.length < raw.namesize) throw malformed(`truncated name at byte ${at + CPIO_ODC_HEADER_BYTES}`, { at });
  if (nameBuf[raw.namesize - 1] !== 0) throw malformed(`name at byte ${at + CPIO_ODC_HEADER_BYTES} is not NUL-terminated`, { at });
  return { raw, name: nameBuf.toString('utf8', 0, raw.namesize - 1) };
}

export interface CpioUnwrapped {
  readonly meta: CpioMeta;
  /**
   * Exactly `meta.size` bytes, as views into the source's chunks. After the
   * last one it checks the trailer and the NUL padding to a multiple of 512
   * (MALFORMED otherwise), so a consumer that iterates to the end has checked
   * the whole archive. Stopping early releases the source.
   */
  readonly data: AsyncGenerator<Buffer, void, undefined>;
  /**
   * Release the source without reading on (idempotent). Needed only when
   * `data` is never iterated: a generator that has not started does not run
   * its cleanup on return().
   */
  close(): Promise<void>;
}

/** Parse a one-file odc archive: header now, data and trailer as `data` is iterated. MALFORMED on a bad archive. */
export async function unwrapCpio(source: AsyncIterable<Uint8Array>): Promise<CpioUnwrapped> {
  const reader = new ChunkReader(source);
  let entry: { raw: RawHeader; name: string };
  try {
    entry = await readEntry(reader);
    if (entry.name === CPIO_TRAILER_NAME) throw malformed('the archive holds no file');
  } catch (err) {
    await reader.close();
    throw err;
  }
  const { raw, name } = entry;
  const meta: CpioMeta = {
    name, size: raw.filesize, mode: raw.mode, uid: raw.uid, gid: raw.gid, mtime: raw.mtime,
    dev: raw.dev, ino: raw.ino, nlink: raw.nlink, rdev: raw.rdev,
  };
  async function* data(): AsyncGenerator<Buffer, void, undefined> {
    try {
      for (let left = meta.size; left > 0; ) {
        const chunk = await reader.take(Math.min(left, 1 << 20));
        if (chunk === null) throw malformed(`data of ${name} ends after ${meta.size - left} of ${meta.size} bytes`, { name });
        left -= chunk.length;
        yield chunk;
      }
      const trailer = await readEntry(reader);
      if (trailer.name !== CPIO_TRAILER_NAME) throw malformed(`a second entry ${JSON.stringify(trailer.name)} follows ${name}; expected ${CPIO_TRAILER_NAME}`);
      if (trailer.raw.filesize !== 0) throw malformed('the trailer has data');
      for (let c = await reader.take(CPIO_BLOCK_BYTES); c !== null; c = await reader.take(CPIO_BLOCK_BYTES)) {
        if (c.some((b) => b !== 0)) throw malformed(`non-NUL bytes after the trailer near byte ${reader.consumed - c.length}`);
      }
      if (reader.consumed % CPIO_BLOCK_BYTES !== 0) throw malformed(`archive length ${reader.consumed} is not a multiple of ${CPIO_BLOCK_BYTES}`);
    } finally {
      await reader.close();
    }
  }
  return { meta, data: data(), close: () => reader.close() };
}
