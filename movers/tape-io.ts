/**
 * The mover's data path on tape (DESIGN §6, §7): VOL1 label as file 0, then
 * one cpio ODC archive per file, written in fixed-size blocks and closed by a
 * filemark; `file_no` N is the file after the N-th filemark.
 *
 * Everything streams with bounded memory: a write holds two blocks (one being
 * written by the drive while the next fills from the source), a read holds the
 * record being consumed plus one read ahead. The checksum is adler32 of the
 * file's data bytes only (not the cpio header or trailer), as Enstore records it.
 */
import { Adler32 } from '../src/checksum/adler32.ts';
import { syntheticChecksums } from '../src/checksum/synthetic.ts';
import { TapestryError } from '../src/errors/index.ts';
import type { TapeDrive } from '../src/hardware/types.ts';
import { cpioArchiveSize, cpioName, unwrapCpio, wrapCpio, type CpioMeta, type CpioMetaInit } from './cpio-odc.ts';
import { encodeVol1, parseVol1 } from './vol1.ts';

/** The sanity cookie covers the first 64 KiB of data (Enstore's sanity_size). */
export const SANITY_BYTES = 65536;

const noop = (): void => {};

/** Label a tape: rewind, VOL1 block, filemark. Everything on the tape after the head is lost, as on real tape. */
export async function writeLabel(drive: TapeDrive, label: string, signal?: AbortSignal): Promise<void> {
  const vol1 = encodeVol1(label); // refuse a bad label before touching the tape
  await drive.rewind(signal);
  await drive.writeBlock(vol1, signal);
  await drive.writeFilemarks(1, signal);
}

/**
 * Rewind and read file 0's first record: resolves with the label when it is
 * `expected`. LABEL_MISMATCH for another label, MALFORMED when record 0 is not
 * a VOL1 label, BLANK_CHECK (from the drive) on a blank tape.
 */
export async function checkLabel(drive: TapeDrive, expected: string, signal?: AbortSignal): Promise<string> {
  await drive.rewind(signal);
  const record = await drive.readRecord(signal);
  if (record.kind === 'filemark') throw new TapestryError('MALFORMED', `tape in ${drive.name} starts with a filemark, not a VOL1 label`, { context: { drive: drive.name, expected } });
  return parseVol1(record.data, expected);
}

/** Adler32 of the data bytes plus the sanity cookie over the first SANITY_BYTES of them. */
class DataChecksum {
  readonly full = new Adler32();
  readonly sanity = new Adler32();

  update(chunk: Uint8Array): void {
    this.full.update(chunk);
    const room = SANITY_BYTES - this.sanity.bytes;
    if (room > 0) this.sanity.update(chunk.length <= room ? chunk : chunk.subarray(0, room));
  }
}

export interface WriteFileOptions {
  /** The cpio header fields (name = namespace path); the size is `expectedSize`. */
  readonly meta: Omit<CpioMetaInit, 'size'>;
  /** The data. Each chunk is copied before the next is requested, so a source may reuse one buffer. */
  readonly source: AsyncIterable<Uint8Array>;
  /** Tape block size of the media type; every block but the last is exactly this long. */
  readonly blockSize: number;
  readonly expectedSize: number;
  readonly signal?: AbortSignal;
}

export interface WriteFileResult {
  /** Data bytes of the file (= expectedSize). */
  readonly dataBytes: number;
  /** Bytes of tape used: the whole cpio archive. */
  readonly tapeBytes: number;
  readonly blocks: number;
  /** adler32 (1-seeded) of the data bytes. */
  readonly crc: number;
  /** adler32 of the first `sanitySize` data bytes. */
  readonly sanityCrc: number;
  readonly sanitySize: number;
}

/**
 * Append one file at the head, which the caller has put at end-of-data (after
 * the last good filemark): the cpio archive in blocks of exactly `blockSize`
 * (the last may be short), then one filemark.
 *
 * Failure leaves what was written on tape but writes **no filemark**: a source
 * that yields more or fewer bytes than `expectedSize` (BAD_FILE_SIZE), a file
 * over 8 GiB − 1 (USERERROR, before anything is written), END_OF_TAPE, a drive
 * error, an abort. The file is not complete on tape and must not be
 * registered; the caller's next write positions with
 * `drive.locateFile(filesOnTape)` (= after the last good filemark) and
 * overwrites the partial blocks, as tape writes truncate what follows.
 */
export async function writeFile(drive: TapeDrive, options: WriteFileOptions): Promise<WriteFileResult> {
  const { blockSize, expectedSize, signal } = options;
  if (!Number.isSafeInteger(blockSize) || blockSize < 1) throw new TapestryError('USERERROR', `bad block size ${blockSize}`);
  const sum = new DataChecksum();
  async function* tapped(): AsyncGenerator<Uint8Array, void, undefined> {
    for await (const chunk of options.source) {
      signal?.throwIfAborted();
      sum.update(chunk);
      yield chunk;
    }
  }

  // Two blocks: the drive writes one while the next fills. A block is refilled
  // only after the drive's write of it has resolved.
  const blocks = [Buffer.allocUnsafe(blockSize), Buffer.allocUnsafe(blockSize)];
  let current = 0;
  let fill = 0;
  let written = 0;
  let tapeBytes = 0;
  let pending: Promise<void> | null = null;
  const flush = async (): Promise<void> => {
    const block = blocks[current]!.subarray(0, fill);
    if (pending !== null) await pending; // one drive command at a time
    pending = drive.writeBlock(block, signal);
    pending.catch(noop); // observed at the next flush or below; never unhandled meanwhile
    tapeBytes += fill;
    written++;
    current ^= 1;
    fill = 0;
  };

  try {
    for await (const chunk of wrapCpio({ ...options.meta, size: expectedSize }, tapped())) {
      for (let at = 0; at < chunk.length; ) {
        const n = Math.min(blockSize - fill, chunk.length - at);
        chunk.copy(blocks[current]!, fill, at, at + n);
        fill += n;
        at += n;
        if (fill === blockSize) await flush();
      }
    }
    if (fill > 0) await flush();
    if (pending !== null) await pending;
  } catch (err) {
    // Leave the drive idle for the caller: let an in-flight write settle first.
    await (pending as Promise<void> | null)?.catch(noop);
    throw err;
  }
  await drive.writeFilemarks(1, signal);
  return {
    dataBytes: expectedSize,
    tapeBytes,
    blocks: written,
    crc: sum.full.digest(),
    sanityCrc: sum.sanity.digest(),
    sanitySize: sum.sanity.bytes,
  };
}

export interface ReadFileOptions {
  readonly signal?: AbortSignal;
  /** The catalogue's size: BAD_FILE_SIZE before any data when the archive header disagrees. */
  readonly expectedSize?: number;
  /** The catalogue's adler32: CRC_MISMATCH after the last chunk when the data disagrees. */
  readonly expectedCrc?: number;
  /**
   * Read records into a ring of reused buffers of this size (the volume's
   * block size) instead of a fresh buffer per record. The data chunks are then
   * views that stay valid only until the consumer asks for the chunk after
   * next: consume (copy, send and await the send) each chunk before pulling on.
   */
  readonly bufferBytes?: number;
}

export interface ReadFileResult {
  readonly meta: CpioMeta;
  readonly size: number;
  readonly crc: number;
  readonly sanityCrc: number;
  readonly sanitySize: number;
  /** Bytes of tape read: the whole archive. */
  readonly tapeBytes: number;
}

/**
 * The data bytes of file `fileNo`. Iterate it to the end: only then are the
 * cpio trailer and the expected CRC checked, and `result` resolves. A consumer
 * that stops early leaves `result` rejected and the head inside the file.
 */
export interface TapeFileReader extends AsyncIterable<Buffer> {
  readonly result: Promise<ReadFileResult>;
}

/** Locate to file `fileNo` (≥ 1), read its records up to the filemark, unwrap the cpio archive, streaming. */
export function readFile(drive: TapeDrive, fileNo: number, options: ReadFileOptions = {}): TapeFileReader {
  if (!Number.isSafeInteger(fileNo) || fileNo < 1) throw new TapestryError('USERERROR', `file number must be ≥ 1 (file 0 is the label), got ${fileNo}`);
  const { signal, expectedCrc, expectedSize, bufferBytes } = options;
  const context = { drive: drive.name, fileNo };
  let settle!: { resolve: (r: ReadFileResult) => void; reject: (e: unknown) => void };
  const result = new Promise<ReadFileResult>((resolve, reject) => (settle = { resolve, reject }));
  result.catch(noop); // a consumer may only iterate; the error reaches it through the iteration too
  let tapeBytes = 0;

  async function* records(): AsyncGenerator<Buffer, void, undefined> {
    await drive.locateFile(fileNo, signal);
    // One record read ahead, so the drive works while the consumer writes the
    // last one. Three buffers: the one read ahead, the one the consumer holds,
    // and the one before it, which the consumer may still be sending when it
    // pulls (it is released once the pull returns).
    const ring = bufferBytes ? [0, 1, 2].map(() => Buffer.allocUnsafe(bufferBytes)) : null;
    let n = 0;
    const readNext = (): Promise<Awaited<ReturnType<TapeDrive['readRecord']>>> => drive.readRecord(signal, ring?.[n++ % ring.length]);
    let next: Promise<Awaited<ReturnType<TapeDrive['readRecord']>>> | null = readNext();
    next.catch(noop);
    try {
      for (;;) {
        const record = await next;
        next = null;
        if (record.kind === 'filemark') return;
        tapeBytes += record.data.length;
        next = readNext();
        next.catch(noop);
        yield record.data;
      }
    } finally {
      await next?.catch(noop);
    }
  }

  async function* data(): AsyncGenerator<Buffer, void, undefined> {
    let done = false;
    try {
      const { meta, data: bytes, close } = await unwrapCpio(records());
      if (expectedSize !== undefined && meta.size !== expectedSize) {
        await close(); // waits for the record read ahead, so the drive is idle
        throw new TapestryError('BAD_FILE_SIZE', `file ${fileNo} on tape has ${meta.size} bytes, the catalogue says ${expectedSize}`, { context: { ...context, size: meta.size, expectedSize } });
      }
      const sum = new DataChecksum();
      for await (const chunk of bytes) {
        sum.update(chunk);
        yield chunk;
      }
      const crc = sum.full.digest();
      if (expectedCrc !== undefined && crc !== expectedCrc) {
        throw new TapestryError('CRC_MISMATCH', `file ${fileNo}: adler32 of the data read is ${crc}, the catalogue says ${expectedCrc}`, { context: { ...context, crc, expectedCrc } });
      }
      done = true;
      settle.resolve({ meta, size: meta.size, crc, sanityCrc: sum.sanity.digest(), sanitySize: sum.sanity.bytes, tapeBytes });
    } catch (err) {
      done = true;
      settle.reject(err);
      throw err;
    } finally {
      if (!done) settle.reject(new TapestryError('INTERNAL', `reading file ${fileNo} was stopped before its end`, { context }));
    }
  }

  const iterator = data();
  return { result, [Symbol.asyncIterator]: () => iterator };
}

/**
 * Soak: append one synthetic file at the head (at end-of-data, as writeFile):
 * ONE record describing the cpio archive of `size` bytes of the content of
 * `seed`, taking the archive's tape bytes, then a filemark. The checksums come
 * from the seed (src/checksum/synthetic.ts), so the caller compares them with
 * the client's trailer exactly as for real data.
 */
export async function writeSyntheticFile(drive: TapeDrive, options: { readonly name: string; readonly seed: number; readonly size: number; readonly signal?: AbortSignal }): Promise<WriteFileResult> {
  if (!drive.writeSynthetic) throw new TapestryError('USERERROR', `drive ${drive.name} cannot write synthetic records (simulated drives only)`);
  const tapeBytes = cpioArchiveSize({ name: cpioName(options.name), size: options.size });
  await drive.writeSynthetic({ seed: options.seed, dataBytes: options.size, tapeBytes }, options.signal);
  await drive.writeFilemarks(1, options.signal);
  const sums = syntheticChecksums(options.seed, options.size);
  return { dataBytes: options.size, tapeBytes, blocks: 1, crc: sums.crc, sanityCrc: sums.sanityCrc, sanitySize: sums.sanitySize };
}

/** Soak: locate to `fileNo` and read its synthetic record and closing filemark. */
export async function readSyntheticFile(drive: TapeDrive, fileNo: number, signal?: AbortSignal): Promise<{ seed: number; size: number; tapeBytes: number; crc: number }> {
  if (!drive.readSynthetic) throw new TapestryError('USERERROR', `drive ${drive.name} cannot read synthetic records (simulated drives only)`);
  await drive.locateFile(fileNo, signal);
  const record = await drive.readSynthetic(signal);
  const end = await drive.readRecord(signal);
  if (end.kind !== 'filemark') throw new TapestryError('MALFORMED', `file ${fileNo} on ${drive.name}: a synthetic record is followed by data, not a filemark`, { context: { drive: drive.name, fileNo } });
  return { seed: record.seed, size: record.dataBytes, tapeBytes: record.tapeBytes, crc: syntheticChecksums(record.seed, record.dataBytes).crc };
}
