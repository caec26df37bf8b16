/**
 * One simulated cartridge on disk: `<tapesDir>/<LABEL>/{meta.json,index,data}`.
 * The byte layout is documented in docs/cartridge-format.md so an exported
 * cartridge can be read without Tapestry; keep the two in step.
 *
 * The whole index is mirrored in memory (32 bytes a record, ~3 MB for 100k
 * records) so any record is reached in O(1) and a locate never touches disk.
 *
 * Appends go through a write-behind buffer, as on a real drive: writeBlock
 * copies the block into a staging buffer and returns; full buffers are written
 * to disk in the background, one write to `data` and one to `index` each. Any
 * other operation first drains the buffer, so it sees exactly what was written.
 */
import { mkdir, open, readFile, rename, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { TapestryError } from '../src/errors/index.ts';
import type { SyntheticRecord, TapePosition, TapeRecord } from '../src/hardware/types.ts';

export const FORMAT_VERSION = 1;
export const INDEX_RECORD_BYTES = 32;
/** Tape bytes a filemark occupies in the position/capacity model (see the format doc). */
export const FILEMARK_TAPE_BYTES = 0;

/** Record type byte. 3 is reserved for soak tests: a block described, not stored. */
export const RECORD_DATA = 1;
export const RECORD_FILEMARK = 2;
export const RECORD_SYNTHETIC = 3;

// Field offsets inside one index record (all little-endian).
const F_TYPE = 0; // u8
const F_FLAGS = 1; // u8, 0
const F_SIZE = 4; // u32 payload bytes (0 for a filemark)
const F_DATA_OFFSET = 8; // u64 offset of the payload in `data`
const F_TAPE_BYTES = 16; // u64 tape position (bytes from BOT) where the record starts
const F_CRC = 24; // u32 crc32 of the payload (0 for a filemark); a synthetic record's seed
const F_SYNTHETIC_DATA = 28; // u32 reserved; a synthetic record's data bytes

const MAX_BLOCK = 0xffff_ffff;

/**
 * Write-behind staging: two buffers of this many payload bytes, so one fills
 * while the other is written, and memory stays bounded at two buffers a
 * cartridge. 256 KiB blocks are 8 a buffer: 512 writes of `data` a GiB instead
 * of 8192. Measured with tools/bench/tape-path.ts, 1–2 MiB buffers beat 4–32 MiB
 * ones (likely because a small buffer is still in the CPU cache when the kernel
 * copies it out). A bigger block is written through (see writeBlock).
 */
export const STAGING_BUFFER_BYTES = 2 * 1024 * 1024;
/** One read of `data` serves the following records of a file up to this many bytes. */
const READ_AHEAD_BYTES = 2 * 1024 * 1024;
/** Index records a staging buffer holds (128 KiB), so a stream of tiny blocks also fills it. */
const STAGING_BUFFER_RECORDS = 4096;
/**
 * After this many bytes flushed, the flusher starts an fdatasync of `data`: the
 * kernel would start writeback only at ~10 % of RAM dirty, leaving a whole file
 * for the filemark's fsync; syncing as we go leaves it only the tail.
 */
const PROGRESSIVE_SYNC_BYTES = 64 * 1024 * 1024;
const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

export interface CartridgeMeta {
  readonly formatVersion: number;
  readonly label: string;
  readonly mediaType: string;
  readonly capacityBytes: number;
  readonly writeProtected: boolean;
  /** Fault: writes past this many tape bytes fail with END_OF_TAPE, as if the tape were shorter. */
  readonly earlyEndOfTapeBytes: number | null;
}

export interface CartridgeInit {
  readonly label: string;
  readonly mediaType: string;
  readonly capacityBytes: number;
}

export interface CartridgeOptions {
  /**
   * fsync `data` then `index` after each filemark (default true). A mover reports
   * a file written only after its filemark, the point where a real drive flushes
   * its buffer, so that is the one place durability matters; syncing every block
   * would cost throughput for nothing. Soak tests may turn it off. When on, the
   * write-behind flusher also fdatasyncs `data` every 64 MiB while a file
   * streams, so the filemark's fsync has only the tail to write.
   */
  readonly syncOnFilemark?: boolean;
  /**
   * Open for reading only (`tapestry tape dump`, external readers): the files
   * are opened read-only, a crash tail is ignored rather than cut off (a
   * running server may be writing that very tail), and every write or fault
   * injection fails with WRITE_PROTECTED.
   */
  readonly readOnly?: boolean;
}

/** What open() had to cut off after a crash (0/0 on a clean open). */
export interface RepairReport {
  readonly indexBytesTrimmed: number;
  readonly dataBytesTrimmed: number;
}

export interface RecordInfo {
  readonly type: 'data' | 'filemark' | 'synthetic';
  readonly size: number;
  readonly dataOffset: number;
  readonly tapeBytes: number;
  readonly crc32: number;
}

/** Plain, serialisable summary (HTTP routes, `tapestry tape show`). */
export interface CartridgeDescription extends CartridgeMeta {
  readonly records: number;
  readonly filemarks: number;
  readonly usedBytes: number;
}

export function validateLabel(label: string): void {
  // Labels become directory names: refuse anything that could escape tapesDir.
  if (!LABEL_RE.test(label)) {
    throw new TapestryError('USERERROR', `invalid cartridge label ${JSON.stringify(label)}`, { context: { label } });
  }
}

function u64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 0x1_0000_0000;
}

function putU64(buf: Buffer, at: number, value: number): void {
  buf.writeUInt32LE(value % 0x1_0000_0000, at);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), at + 4);
}

/** Bytes of `data` a record occupies. */
function storedBytes(type: number, size: number): number {
  return type === RECORD_DATA ? size : 0;
}

/** Bytes of tape a record occupies. */
function tapeLength(type: number, size: number): number {
  return type === RECORD_FILEMARK ? FILEMARK_TAPE_BYTES : size;
}

function parseMeta(text: string, label: string): CartridgeMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new TapestryError('MALFORMED', `cartridge ${label}: meta.json is not JSON`, { cause, context: { label } });
  }
  const m = raw as Partial<CartridgeMeta>;
  const ok =
    typeof m === 'object' && m !== null &&
    typeof m.formatVersion === 'number' && typeof m.label === 'string' && typeof m.mediaType === 'string' &&
    typeof m.capacityBytes === 'number' && typeof m.writeProtected === 'boolean' &&
    (m.earlyEndOfTapeBytes === null || typeof m.earlyEndOfTapeBytes === 'number');
  if (!ok) throw new TapestryError('MALFORMED', `cartridge ${label}: meta.json lacks required fields`, { context: { label } });
  if (m.formatVersion! > FORMAT_VERSION) {
    throw new TapestryError('INTERNAL', `cartridge ${label}: format version ${m.formatVersion} is newer than ${FORMAT_VERSION}`, { context: { label } });
  }
  return m as CartridgeMeta;
}

async function writeMeta(dir: string, meta: CartridgeMeta): Promise<void> {
  // Write-then-rename so a crash leaves either the old or the new meta, never half.
  const tmp = path.join(dir, 'meta.json.tmp');
  await writeFile(tmp, JSON.stringify(meta, null, 2) + '\n');
  await rename(tmp, path.join(dir, 'meta.json'));
}

async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  for (let done = 0; done < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

async function readFully(fh: FileHandle, size: number, position: number, into?: Buffer): Promise<Buffer | null> {
  const buf = into && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
  for (let done = 0; done < size; ) {
    const { bytesRead } = await fh.read(buf, done, size - done, position + done);
    if (bytesRead === 0) return null;
    done += bytesRead;
  }
  return buf;
}

/** One staging buffer: consecutive appended records, payloads back to back, not yet on disk. */
class Stage {
  readonly data = Buffer.allocUnsafe(STAGING_BUFFER_BYTES);
  readonly index = Buffer.allocUnsafe(STAGING_BUFFER_RECORDS * INDEX_RECORD_BYTES);
  dataBytes = 0;
  records = 0;
  /** Record number of the first staged record, and the `data` offset of its payload. */
  firstRecord = 0;
  dataStart = 0;
  /** The write of this buffer to disk while it is in flight; the buffer is reused only after it settles. */
  flushing: Promise<void> | null = null;

  fits(size: number): boolean {
    return this.dataBytes + size <= STAGING_BUFFER_BYTES && this.records < STAGING_BUFFER_RECORDS;
  }

  get full(): boolean {
    return !this.fits(1);
  }

  add(n: number, dataOffset: number, payload: Buffer, rec: Buffer): void {
    if (this.records === 0) {
      this.firstRecord = n;
      this.dataStart = dataOffset;
    }
    // Copy: the caller may reuse its buffer as soon as writeBlock returns.
    payload.copy(this.data, this.dataBytes);
    rec.copy(this.index, this.records * INDEX_RECORD_BYTES);
    this.dataBytes += payload.length;
    this.records++;
  }

  empty(): void {
    this.dataBytes = 0;
    this.records = 0;
  }
}

/**
 * Staging buffers given back by drained cartridges, taken by the next append
 * on any cartridge. A drain comes with every filemark, and allocating two
 * fresh 2 MiB buffers per file made V8 run a full collection every few files
 * ("external memory pressure": the soak spent more CPU in GC threads than in
 * its own code). Capped: memory stays at what the busiest moment needed.
 */
const spareStages: Stage[] = [];
const MAX_SPARE_STAGES = 8;

function takeStage(): Stage {
  return spareStages.pop() ?? new Stage();
}

function giveBackStage(stage: Stage): void {
  if (spareStages.length < MAX_SPARE_STAGES) spareStages.push(stage);
}

export class Cartridge {
  private meta: CartridgeMeta;
  /** Mirror of `index`; only the first `count` records are meaningful. */
  private idx: Buffer;
  private count: number;
  /** Record numbers of the filemarks, ascending: file N starts after filemarks[N-1]. */
  private filemarks: number[];
  private closed = false;
  /** Serialises every file operation, so a fault injected mid-write cannot interleave with it. */
  private lock: Promise<void> = Promise.resolve();
  /** Bytes of `data` read ahead (records of one file are contiguous); dropped by any other operation. */
  private readAhead: { buf: Buffer; offset: number; length: number } | null = null;
  /** The read-ahead buffer kept for reuse while the read-ahead itself is dropped. */
  private spareReadAhead: Buffer | null = null;

  // Write-behind state. Records up to `count` exist in `idx`; the staged ones
  // reach the files only when their buffer is flushed.
  /** The two staging buffers, allocated on the first staged append and dropped when drained. */
  private stages: [Stage, Stage] | null = null;
  /** Which of `stages` is filling. */
  private filling: 0 | 1 = 0;
  /** Flushes run one after the other (payload and index of buffer k before buffer k+1). Never rejects. */
  private flushChain: Promise<void> = Promise.resolve();
  /** Payload bytes flushed since the last fdatasync of `data` started, and the first record they belong to. */
  private unsyncedBytes = 0;
  private unsyncedFrom: number | null = null;
  /**
   * The progressive fdatasync in flight (at most one). It runs beside the flush
   * chain, not in it: awaited there, it stalled every flush behind a 64 MiB
   * writeback, so the buffers filled and writeBlock waited on the disk. Never
   * rejects; drain() waits for it.
   */
  private syncing: Promise<void> | null = null;
  /**
   * A failed flush: records from `lostFrom` on are not (reliably) on disk. The
   * error is reported once by the next drive operation (a SCSI "deferred
   * error"); until records ≥ lostFrom are overwritten, reading them or writing
   * past them fails too, so nothing is ever built on the hole.
   */
  private flushFailure: TapestryError | null = null;
  private flushFailureReported = false;
  private lostFrom: number | null = null;

  private constructor(
    readonly dir: string,
    meta: CartridgeMeta,
    private readonly dataFh: FileHandle,
    private readonly indexFh: FileHandle,
    idx: Buffer,
    count: number,
    filemarks: number[],
    readonly repair: RepairReport,
    private readonly syncOnFilemark: boolean,
    private readonly readOnly: boolean,
  ) {
    this.meta = meta;
    this.idx = idx;
    this.count = count;
    this.filemarks = filemarks;
  }

  /** Make an empty cartridge directory; the caller has checked it does not exist yet. */
  static async create(dir: string, init: CartridgeInit, options: CartridgeOptions = {}): Promise<Cartridge> {
    validateLabel(init.label);
    if (!(Number.isSafeInteger(init.capacityBytes) && init.capacityBytes > 0)) {
      throw new TapestryError('USERERROR', `capacity must be a positive integer, got ${init.capacityBytes}`);
    }
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'data'), '');
    await writeFile(path.join(dir, 'index'), '');
    // meta.json last: its presence is what makes the cartridge exist.
    await writeMeta(dir, { formatVersion: FORMAT_VERSION, ...init, writeProtected: false, earlyEndOfTapeBytes: null });
    return Cartridge.open(dir, init.label, options);
  }

  /**
   * Open and, after a crash, repair: keep the longest prefix of whole, consistent
   * index records whose payloads are present, then cut `data` to what they use.
   */
  static async open(dir: string, label: string, options: CartridgeOptions = {}): Promise<Cartridge> {
    let metaText: string;
    try {
      metaText = await readFile(path.join(dir, 'meta.json'), 'utf8');
    } catch (cause) {
      throw new TapestryError('NOT_FOUND', `no cartridge ${label}`, { cause, context: { label } });
    }
    const meta = parseMeta(metaText, label);
    const flags = options.readOnly === true ? 'r' : 'r+';
    const dataFh = await open(path.join(dir, 'data'), flags);
    const indexFh = await open(path.join(dir, 'index'), flags).catch(async (err: unknown) => {
      await dataFh.close();
      throw err;
    });
    try {
      const onDisk = await readFile(path.join(dir, 'index'));
      const dataSize = (await dataFh.stat()).size;
      const whole = Math.floor(onDisk.length / INDEX_RECORD_BYTES);
      const filemarks: number[] = [];
      let tapeBytes = 0;
      let dataEnd = 0;
      let valid = 0;
      for (; valid < whole; valid++) {
        const at = valid * INDEX_RECORD_BYTES;
        const type = onDisk.readUInt8(at + F_TYPE);
        const size = onDisk.readUInt32LE(at + F_SIZE);
        const consistent =
          (type === RECORD_DATA || type === RECORD_FILEMARK || type === RECORD_SYNTHETIC) &&
          (type !== RECORD_FILEMARK || size === 0) &&
          u64(onDisk, at + F_DATA_OFFSET) === dataEnd &&
          u64(onDisk, at + F_TAPE_BYTES) === tapeBytes &&
          dataEnd + storedBytes(type, size) <= dataSize;
        if (!consistent) break;
        if (type === RECORD_FILEMARK) filemarks.push(valid);
        dataEnd += storedBytes(type, size);
        tapeBytes += tapeLength(type, size);
      }
      const repair = { indexBytesTrimmed: onDisk.length - valid * INDEX_RECORD_BYTES, dataBytesTrimmed: dataSize - dataEnd };
      // Index first, data second: the same order as a mid-tape overwrite.
      // Read-only: the tail is ignored (kept out of `idx`), not cut off.
      if (repair.indexBytesTrimmed > 0 && options.readOnly !== true) await indexFh.truncate(valid * INDEX_RECORD_BYTES);
      if (repair.dataBytesTrimmed > 0 && options.readOnly !== true) await dataFh.truncate(dataEnd);
      const idx = Buffer.alloc(Math.max(1024, valid * 2) * INDEX_RECORD_BYTES);
      onDisk.copy(idx, 0, 0, valid * INDEX_RECORD_BYTES);
      return new Cartridge(dir, meta, dataFh, indexFh, idx, valid, filemarks, repair, options.syncOnFilemark ?? true, options.readOnly === true);
    } catch (err) {
      await Promise.all([dataFh.close(), indexFh.close()]);
      throw err;
    }
  }

  get label(): string {
    return this.meta.label;
  }
  get mediaType(): string {
    return this.meta.mediaType;
  }
  get capacityBytes(): number {
    return this.meta.capacityBytes;
  }
  get writeProtected(): boolean {
    return this.meta.writeProtected;
  }
  get earlyEndOfTapeBytes(): number | null {
    return this.meta.earlyEndOfTapeBytes;
  }
  /** Records (blocks and filemarks) on tape; record numbers run 0..recordCount-1, recordCount is end-of-data. */
  get recordCount(): number {
    return this.count;
  }
  get filemarkCount(): number {
    return this.filemarks.length;
  }
  /** Tape bytes from BOT to end-of-data. */
  get usedBytes(): number {
    return this.tapeBytesAt(this.count);
  }
  get isClosed(): boolean {
    return this.closed;
  }
  /** Payload bytes accepted by writeBlock but not yet written to `data` (at most two staging buffers). */
  get bufferedBytes(): number {
    return this.stages === null ? 0 : this.stages[0].dataBytes + this.stages[1].dataBytes;
  }

  describe(): CartridgeDescription {
    return { ...this.meta, records: this.count, filemarks: this.filemarks.length, usedBytes: this.usedBytes };
  }

  record(n: number): RecordInfo {
    this.checkRecord(n, this.count - 1);
    const at = n * INDEX_RECORD_BYTES;
    const type = this.idx.readUInt8(at + F_TYPE);
    return {
      type: type === RECORD_DATA ? 'data' : type === RECORD_FILEMARK ? 'filemark' : 'synthetic',
      size: this.idx.readUInt32LE(at + F_SIZE),
      dataOffset: u64(this.idx, at + F_DATA_OFFSET),
      tapeBytes: u64(this.idx, at + F_TAPE_BYTES),
      crc32: this.idx.readUInt32LE(at + F_CRC),
    };
  }

  /** Position of the head when it is in front of record `n` (n = recordCount: end-of-data). */
  positionOf(n: number): TapePosition {
    this.checkRecord(n, this.count);
    // fileNo = filemarks strictly before record n (binary search).
    let lo = 0;
    let hi = this.filemarks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.filemarks[mid]! < n) lo = mid + 1;
      else hi = mid;
    }
    return { fileNo: lo, record: n, bytes: this.tapeBytesAt(n) };
  }

  /** Record number where file `fileNo` starts; BLANK_CHECK past the last (possibly empty) file. */
  fileStart(fileNo: number): number {
    if (!Number.isSafeInteger(fileNo) || fileNo < 0) throw new TapestryError('USERERROR', `bad file number ${fileNo}`);
    if (fileNo === 0) return 0;
    const fm = this.filemarks[fileNo - 1];
    if (fm === undefined) {
      throw new TapestryError('BLANK_CHECK', `cartridge ${this.label} has no file ${fileNo} (${this.filemarks.length} filemarks)`, {
        context: { label: this.label, fileNo, filemarks: this.filemarks.length },
      });
    }
    return fm + 1;
  }

  /**
   * Read record `n`, verifying its crc32 (into `into` when it is large
   * enough). BLANK_CHECK at end-of-data, MEDIA_ERROR on a bad crc.
   */
  readRecord(n: number, into?: Buffer): Promise<TapeRecord> {
    return this.exclusive(async () => {
      if (n >= this.count) {
        throw new TapestryError('BLANK_CHECK', `end of data on ${this.label} at record ${n}`, { context: { label: this.label, record: n } });
      }
      await this.drain();
      this.reportFlushFailure();
      this.assertNotLost(n, 'read');
      const r = this.record(n);
      if (r.type === 'filemark') {
        // The end of a file: let the memory go until the next one is read.
        this.readAhead = null;
        this.spareReadAhead = null;
        return { kind: 'filemark' };
      }
      if (r.type === 'synthetic') {
        // Never hand a soak descriptor out as data: a real reader must fail, not deliver bytes.
        throw new TapestryError('MALFORMED', `record ${n} of ${this.label} is a synthetic soak record (seed ${r.crc32}): it holds no data to read`, {
          context: { label: this.label, record: n, synthetic: true },
        });
      }
      const data = await this.readData(r.size, r.dataOffset, into);
      const context = { label: this.label, record: n };
      if (data === null) throw new TapestryError('MEDIA_ERROR', `cartridge ${this.label}: record ${n} is missing from data`, { context });
      const actual = crc32(data);
      if (actual !== r.crc32) {
        throw new TapestryError('MEDIA_ERROR', `cartridge ${this.label}: crc error in record ${n}`, {
          context: { ...context, expected: r.crc32, actual },
        });
      }
      return { kind: 'data', data };
    }, true);
  }

  /**
   * Throw what a write of `tapeBytes` at record `n` would throw (WRITE_PROTECTED,
   * END_OF_TAPE), without writing; the drive calls it before spending transfer time.
   */
  checkWrite(n: number, tapeBytes: number): void {
    this.assertOpen();
    this.assertWritable();
    this.checkRecord(n, this.count);
    const context = { label: this.label, record: n };
    if (this.meta.writeProtected) throw new TapestryError('WRITE_PROTECTED', `cartridge ${this.label} is write-protected`, { context });
    const start = this.tapeBytesAt(n);
    const limit = Math.min(this.meta.capacityBytes, this.meta.earlyEndOfTapeBytes ?? Infinity);
    if (start + tapeBytes > limit) {
      throw new TapestryError('END_OF_TAPE', `cartridge ${this.label}: ${tapeBytes} bytes at ${start} would pass end of tape at ${limit}`, {
        context: { ...context, position: start, bytes: tapeBytes, limit },
      });
    }
  }

  /**
   * Write one block in front of record `n`; records n.. are lost first (tape
   * semantics). An append is staged and acknowledged before it reaches disk
   * (see the class comment); it waits only when both staging buffers are busy.
   */
  writeBlock(n: number, data: Buffer): Promise<void> {
    return this.exclusive(async () => {
      if (data.length === 0 || data.length > MAX_BLOCK) throw new TapestryError('USERERROR', `bad block size ${data.length}`);
      this.checkWrite(n, data.length);
      this.reportFlushFailure();
      this.assertNotLost(n, 'write');
      if (n < this.count) await this.drainAndTruncate(n);
      const crc = crc32(data);
      if (data.length > STAGING_BUFFER_BYTES) {
        // Too big to stage: write it through, after what is staged.
        await this.drain();
        this.reportFlushFailure();
        const dataOffset = this.dataEnd();
        const rec = this.encode(n, RECORD_DATA, data.length, dataOffset, crc);
        // Payload before index: a crash in between leaves surplus data, which open() trims.
        await writeFully(this.dataFh, data, dataOffset);
        await writeFully(this.indexFh, rec, n * INDEX_RECORD_BYTES);
        this.count = n + 1;
        return;
      }
      const stage = await this.stageFor(data.length);
      // The flush waited for may have failed: then this block would land past a hole.
      this.reportFlushFailure();
      this.assertNotLost(n, 'write');
      const dataOffset = this.dataEnd();
      stage.add(n, dataOffset, data, this.encode(n, RECORD_DATA, data.length, dataOffset, crc));
      this.count = n + 1;
      // Start writing a full buffer now rather than at the next block: the disk gets it sooner.
      if (stage.full) this.startFlush();
    });
  }

  /** Write `count` filemarks in front of record `n` (count 0 only flushes, as `mt weof 0`). */
  writeFilemarks(n: number, count: number): Promise<void> {
    return this.exclusive(async () => {
      if (!Number.isSafeInteger(count) || count < 0) throw new TapestryError('USERERROR', `bad filemark count ${count}`);
      if (count > 0) this.checkWrite(n, count * FILEMARK_TAPE_BYTES);
      // A filemark flushes the drive's buffer: every staged block reaches disk
      // before the filemark record, and a failed flush fails the filemark.
      await this.drain();
      this.reportFlushFailure();
      // Refuse to end a file (or report a flush done) on top of lost blocks.
      this.assertNotLost(count > 0 ? n : this.count, 'write');
      if (count > 0) {
        await this.truncate(n);
        const dataOffset = this.dataEnd();
        const recs = Buffer.concat(
          Array.from({ length: count }, (_, i) => this.encode(n + i, RECORD_FILEMARK, 0, dataOffset, 0)),
        );
        await writeFully(this.indexFh, recs, n * INDEX_RECORD_BYTES);
        for (let i = 0; i < count; i++) this.filemarks.push(n + i);
        this.count = n + count;
      }
      if (this.syncOnFilemark) {
        await this.dataFh.datasync();
        await this.indexFh.datasync();
        this.unsyncedBytes = 0;
        this.unsyncedFrom = null;
      }
    });
  }

  /**
   * Soak: write one synthetic record in front of record `n` (records n.. are
   * lost first): type 3, `size` = its tape bytes, crc32 field = seed, the
   * reserved word = data bytes; nothing goes to `data`. Written through (after
   * draining what is staged), as a filemark follows at once anyway.
   */
  writeSynthetic(n: number, record: SyntheticRecord): Promise<void> {
    return this.exclusive(async () => {
      const { seed, dataBytes, tapeBytes } = record;
      if (!(Number.isSafeInteger(tapeBytes) && tapeBytes >= 1 && tapeBytes <= MAX_BLOCK) || !(Number.isSafeInteger(dataBytes) && dataBytes >= 0 && dataBytes <= tapeBytes)) {
        throw new TapestryError('USERERROR', `bad synthetic record: ${dataBytes} data bytes in ${tapeBytes} tape bytes (at most ${MAX_BLOCK})`);
      }
      this.checkWrite(n, tapeBytes);
      await this.drain();
      this.reportFlushFailure();
      this.assertNotLost(n, 'write');
      await this.truncate(n);
      const rec = this.encode(n, RECORD_SYNTHETIC, tapeBytes, this.dataEnd(), seed >>> 0);
      rec.writeUInt32LE(dataBytes, F_SYNTHETIC_DATA);
      this.idx.writeUInt32LE(dataBytes, n * INDEX_RECORD_BYTES + F_SYNTHETIC_DATA);
      await writeFully(this.indexFh, rec, n * INDEX_RECORD_BYTES);
      this.count = n + 1;
    });
  }

  /** The synthetic record `n`; MALFORMED when it is a data block or a filemark (soak verification, SimDrive.readSynthetic). */
  synthetic(n: number): SyntheticRecord {
    const r = this.record(n);
    if (r.type !== 'synthetic') {
      throw new TapestryError('MALFORMED', `record ${n} of ${this.label} is a ${r.type}, not a synthetic soak record`, { context: { label: this.label, record: n } });
    }
    return { seed: r.crc32, dataBytes: this.idx.readUInt32LE(n * INDEX_RECORD_BYTES + F_SYNTHETIC_DATA), tapeBytes: r.size };
  }

  // --- cartridge-level faults (DESIGN §6): used by tests and the operator API ---

  /**
   * Flip the first byte of a stored block. By default the next read of it fails
   * its crc check (MEDIA_ERROR: the drive noticed). `silent` also rewrites the
   * block's crc, so the drive returns the wrong bytes without complaint — the
   * silent corruption only the end-to-end adler32 catches (CRC_MISMATCH).
   */
  corruptRecord(n: number, options: { silent?: boolean } = {}): Promise<void> {
    return this.exclusive(async () => {
      this.assertWritable();
      const r = this.record(n);
      if (r.type !== 'data') throw new TapestryError('USERERROR', `record ${n} of ${this.label} is a ${r.type}, not a data block`);
      // An operator fault, not a drive command: it drains but leaves a flush
      // failure for the drive to report.
      await this.drain();
      this.assertNotLost(n, 'read');
      const byte = (await readFully(this.dataFh, 1, r.dataOffset)) ?? Buffer.alloc(1);
      byte[0] = byte[0]! ^ 0xff;
      await writeFully(this.dataFh, byte, r.dataOffset);
      if (options.silent) {
        const data = (await readFully(this.dataFh, r.size, r.dataOffset))!;
        await writeFully(this.indexFh, this.encode(n, RECORD_DATA, r.size, r.dataOffset, crc32(data)), n * INDEX_RECORD_BYTES);
      }
    });
  }

  /** Make the tape end early at `bytes` (null: at its capacity again). Existing data stays readable. */
  setEarlyEndOfTape(bytes: number | null): Promise<void> {
    if (bytes !== null && !(Number.isSafeInteger(bytes) && bytes >= 0)) {
      return Promise.reject(new TapestryError('USERERROR', `bad early end-of-tape ${bytes}`));
    }
    return this.updateMeta({ earlyEndOfTapeBytes: bytes });
  }

  setWriteProtected(on: boolean): Promise<void> {
    return this.updateMeta({ writeProtected: on });
  }

  /** Drain the staging buffers and close; a flush failure nobody has reported yet rejects here. */
  close(): Promise<void> {
    return this.exclusive(async () => {
      try {
        await this.drain();
      } finally {
        this.closed = true;
        await Promise.all([this.dataFh.close(), this.indexFh.close()]);
      }
      this.reportFlushFailure();
    });
  }

  // --- internals ---

  private updateMeta(change: Partial<CartridgeMeta>): Promise<void> {
    return this.exclusive(async () => {
      this.assertWritable();
      const next = { ...this.meta, ...change };
      await writeMeta(this.dir, next);
      this.meta = next;
    });
  }

  /**
   * Drop records n.. : index first, so no index record ever points past the end
   * of `data`. The caller has drained the staging buffers. Cutting at or before
   * a failed flush's first record also cuts whatever it left half-written.
   */
  private async truncate(n: number): Promise<void> {
    if (n >= this.count) return;
    const dataEnd = u64(this.idx, n * INDEX_RECORD_BYTES + F_DATA_OFFSET);
    await this.indexFh.truncate(n * INDEX_RECORD_BYTES);
    await this.dataFh.truncate(dataEnd);
    this.count = n;
    while (this.filemarks.length > 0 && this.filemarks[this.filemarks.length - 1]! >= n) this.filemarks.pop();
    if (this.lostFrom !== null && n <= this.lostFrom) {
      this.lostFrom = null;
      this.flushFailure = null;
    }
    if (this.unsyncedFrom !== null) this.unsyncedFrom = Math.min(this.unsyncedFrom, n);
  }

  private async drainAndTruncate(n: number): Promise<void> {
    await this.drain();
    this.reportFlushFailure();
    await this.truncate(n);
  }

  // --- write-behind staging ---

  /** The buffer to stage a block of `size` bytes in; waits for the older flush when both are busy. */
  private async stageFor(size: number): Promise<Stage> {
    this.stages ??= [takeStage(), takeStage()];
    let stage = this.stages[this.filling];
    // The filling buffer may still be being written from its previous turn (both
    // buffers busy): wait for that older flush, so memory stays at two buffers.
    if (stage.flushing !== null) await stage.flushing;
    if (!stage.fits(size)) {
      this.startFlush();
      stage = this.stages[this.filling];
      if (stage.flushing !== null) await stage.flushing;
    }
    return stage;
  }

  /** Queue the filling buffer for writing (if it holds anything new) and fill the other one. */
  private startFlush(): void {
    if (this.stages === null) return;
    const stage = this.stages[this.filling];
    // Still being written from its previous turn (nothing staged since): already queued.
    if (stage.records === 0 || stage.flushing !== null) return;
    const flushing = this.flushChain.then(() => this.flush(stage));
    stage.flushing = flushing;
    this.flushChain = flushing;
    this.filling = this.filling === 0 ? 1 : 0;
  }

  /**
   * Write one buffer: ONE write of the payloads, then ONE write of their index
   * records (payload before index, as for a single block, so open()'s crash
   * repair stays right). Failures are kept for the next operation, never thrown
   * into the background.
   */
  private async flush(stage: Stage): Promise<void> {
    try {
      // After a failure, later buffers are dropped: writing them would leave a hole before them.
      if (this.lostFrom !== null) return;
      await writeFully(this.dataFh, stage.data.subarray(0, stage.dataBytes), stage.dataStart);
      await writeFully(this.indexFh, stage.index.subarray(0, stage.records * INDEX_RECORD_BYTES), stage.firstRecord * INDEX_RECORD_BYTES);
      this.unsyncedFrom ??= stage.firstRecord;
      this.unsyncedBytes += stage.dataBytes;
      this.maybeStartSync();
    } catch (cause) {
      this.flushFailed(stage.firstRecord, cause);
    } finally {
      stage.empty();
      stage.flushing = null;
    }
  }

  /**
   * Progressive durability: once PROGRESSIVE_SYNC_BYTES have been flushed, start
   * an fdatasync of `data` (unless one is running; the next flush retries).
   * Only when syncing at all: syncOnFilemark off means no fsync anywhere.
   */
  private maybeStartSync(): void {
    if (!this.syncOnFilemark || this.syncing !== null || this.unsyncedBytes < PROGRESSIVE_SYNC_BYTES) return;
    // If it fails, every record flushed since the previous sync may be lost.
    const from = this.unsyncedFrom ?? 0;
    this.unsyncedBytes = 0;
    this.unsyncedFrom = null;
    this.syncing = this.dataFh.datasync().then(
      () => {
        this.syncing = null;
      },
      (cause: unknown) => {
        this.syncing = null;
        this.flushFailed(from, cause);
      },
    );
  }

  /** Remember a failed flush or sync: records from `from` on may be missing on disk. */
  private flushFailed(from: number, cause: unknown): void {
    if (this.lostFrom !== null && this.lostFrom <= from) return; // already covered by an earlier failure
    this.lostFrom = from;
    this.flushFailureReported = false;
    this.flushFailure = new TapestryError('MEDIA_ERROR', `cartridge ${this.label}: buffered write failed from record ${from}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
      context: { label: this.label, record: from },
    });
  }

  /** Write out everything staged and wait for it; afterwards the files hold every record. */
  private async drain(): Promise<void> {
    if (this.stages !== null) {
      this.startFlush();
      await this.flushChain;
      // The buffers are empty: give them back until the next append (a store
      // keeps every cartridge it has opened open; spares are shared).
      for (const stage of this.stages) giveBackStage(stage);
      this.stages = null;
      this.filling = 0;
    }
    await this.syncing;
  }

  /** Throw a flush failure the first time an operation comes by after it. */
  private reportFlushFailure(): void {
    if (this.flushFailure === null || this.flushFailureReported) return;
    this.flushFailureReported = true;
    throw this.flushFailure;
  }

  /** Refuse to read a record a failed flush lost, or to write past it (that would build on the hole). */
  private assertNotLost(n: number, op: 'read' | 'write'): void {
    if (this.lostFrom === null || (op === 'read' ? n < this.lostFrom : n <= this.lostFrom)) return;
    throw new TapestryError('MEDIA_ERROR', `cartridge ${this.label}: records from ${this.lostFrom} were lost by a failed buffered write; rewrite from there`, {
      cause: this.flushFailure,
      context: { label: this.label, record: n, lostFrom: this.lostFrom },
    });
  }

  /** Fill in-memory record `n` and return a copy of its 32 bytes for the file. */
  private encode(n: number, type: number, size: number, dataOffset: number, crc: number): Buffer {
    if ((n + 1) * INDEX_RECORD_BYTES > this.idx.length) {
      const grown = Buffer.alloc(this.idx.length * 2);
      this.idx.copy(grown);
      this.idx = grown;
    }
    const at = n * INDEX_RECORD_BYTES;
    const rec = this.idx.subarray(at, at + INDEX_RECORD_BYTES);
    rec.fill(0);
    rec.writeUInt8(type, F_TYPE);
    rec.writeUInt8(0, F_FLAGS);
    rec.writeUInt32LE(size, F_SIZE);
    putU64(rec, F_DATA_OFFSET, dataOffset);
    putU64(rec, F_TAPE_BYTES, this.tapeBytesAt(n));
    rec.writeUInt32LE(crc >>> 0, F_CRC);
    return Buffer.from(rec);
  }

  private tapeBytesAt(n: number): number {
    if (n === 0) return 0;
    const at = (n - 1) * INDEX_RECORD_BYTES;
    return u64(this.idx, at + F_TAPE_BYTES) + tapeLength(this.idx.readUInt8(at + F_TYPE), this.idx.readUInt32LE(at + F_SIZE));
  }

  private dataEnd(): number {
    if (this.count === 0) return 0;
    const at = (this.count - 1) * INDEX_RECORD_BYTES;
    return u64(this.idx, at + F_DATA_OFFSET) + storedBytes(this.idx.readUInt8(at + F_TYPE), this.idx.readUInt32LE(at + F_SIZE));
  }

  private checkRecord(n: number, max: number): void {
    if (!Number.isSafeInteger(n) || n < 0 || n > max) {
      throw new TapestryError('USERERROR', `record ${n} out of range 0..${max} on ${this.label}`, { context: { label: this.label, record: n } });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new TapestryError('INTERNAL', `cartridge ${this.label} is closed`, { context: { label: this.label } });
  }

  private assertWritable(): void {
    if (this.readOnly) throw new TapestryError('WRITE_PROTECTED', `cartridge ${this.label} is open read-only`, { context: { label: this.label } });
  }

  /** One operation at a time; every operation but a read drops the read-ahead (it may change `data`). */
  /**
   * The data of a record, through the read-ahead: a drive reads ahead into its
   * buffer while the host consumes, and one large read here replaces many
   * small ones (records of a file are contiguous in `data`). Copied out into
   * `into` (when large enough) or a new buffer, so callers own what they get.
   */
  private async readData(size: number, offset: number, into?: Buffer): Promise<Buffer | null> {
    if (size > READ_AHEAD_BYTES) return readFully(this.dataFh, size, offset, into);
    let ra = this.readAhead;
    if (ra === null || offset < ra.offset || offset + size > ra.offset + ra.length) {
      const buf = ra?.buf ?? this.spareReadAhead ?? Buffer.allocUnsafe(READ_AHEAD_BYTES);
      this.spareReadAhead = null;
      const length = Math.min(READ_AHEAD_BYTES, this.dataEnd() - offset);
      if (length < size) return null; // the record runs past the end of `data`
      const got = await readFully(this.dataFh, length, offset, buf);
      // `data` shorter than the index says (blocks lost by a failed flush): only the record itself.
      if (got === null) return readFully(this.dataFh, size, offset, into);
      ra = this.readAhead = { buf, offset, length };
    }
    const out = into && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
    ra.buf.copy(out, 0, offset - ra.offset, offset - ra.offset + size);
    return out;
  }

  private exclusive<T>(fn: () => Promise<T>, keepReadAhead = false): Promise<T> {
    const run = this.lock.then(() => {
      this.assertOpen();
      if (!keepReadAhead && this.readAhead !== null) {
        this.spareReadAhead = this.readAhead.buf;
        this.readAhead = null;
      }
      return fn();
    });
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}

/** True when `dir` holds a complete cartridge (meta.json is written last). */
export async function cartridgeExists(dir: string): Promise<boolean> {
  return stat(path.join(dir, 'meta.json')).then(
    () => true,
    () => false,
  );
}
