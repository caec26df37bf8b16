/**
 * Checking a cartridge against its metadata (docs/export-format.md), for the
 * import of a foreign tape and for `tapestry-tape-reader`: the cartridge's own
 * label and media type, the VOL1 label, that the tape ends where the metadata
 * says, and for every file its cpio header (name, size) and the adler32 of its
 * bytes. Problems are collected, not thrown, so a refusal can list all of them.
 */
import { isTapestryError, type ErrorCode } from '../src/errors/index.ts';
import type { Cartridge } from '../hardware-sim/cartridge.ts';
import { cpioName } from '../movers/cpio-odc.ts';
import { checkLabel, readFile } from '../movers/tape-io.ts';
import { CartridgeDrive } from './cartridge-drive.ts';
import { adler32Hex, type FileEntry, type VolumeMetadata } from './format.ts';

export interface TapeProblem {
  /** The file concerned; null for the volume as a whole. */
  readonly fileNo: number | null;
  readonly path: string | null;
  readonly code: ErrorCode;
  readonly message: string;
}

const hex = (n: number): string => `0x${adler32Hex(n)}`;

function fileProblem(f: FileEntry, code: ErrorCode, what: string): TapeProblem {
  return { fileNo: f.fileNo, path: f.path, code, message: `file ${f.fileNo} (${f.path}): ${what}` };
}

function volumeProblem(code: ErrorCode, message: string): TapeProblem {
  return { fileNo: null, path: null, code, message };
}

/**
 * Read file `f` at its position, handing each chunk of its data to `sink`
 * (awaited, so a slow writer holds the tape back), and check its cpio name,
 * size and adler32 against the metadata. Returns the problems (none = verified).
 * A size that disagrees with the cpio header is found before any data is read.
 */
export async function readAndCheck(drive: CartridgeDrive, f: FileEntry, sink: ((chunk: Buffer) => Promise<void>) | null, signal?: AbortSignal): Promise<TapeProblem[]> {
  const reader = readFile(drive, f.fileNo, { expectedSize: f.size, signal });
  try {
    for await (const chunk of reader) if (sink) await sink(chunk);
    const result = await reader.result;
    const problems: TapeProblem[] = [];
    const expectedName = cpioName(f.path);
    if (result.meta.name !== expectedName) problems.push(fileProblem(f, 'CONFLICT', `the cpio header on tape names ${JSON.stringify(result.meta.name)}, the metadata ${JSON.stringify(expectedName)}`));
    if (result.crc !== f.adler32) problems.push(fileProblem(f, 'CRC_MISMATCH', `adler32 of the bytes on tape is ${hex(result.crc)} (${result.crc}), the metadata says ${hex(f.adler32)} (${f.adler32})`));
    return problems;
  } catch (err) {
    if (!isTapestryError(err)) throw err;
    if (err.code === 'BAD_FILE_SIZE') return [fileProblem(f, 'BAD_FILE_SIZE', `the cpio header on tape gives ${String(err.context.size)} bytes, the metadata ${f.size}`)];
    return [fileProblem(f, err.code, err.message)];
  }
}

/** Checks that need no reading of file data: the cartridge's label and media type, VOL1, where the tape ends. */
export async function checkVolume(cart: Cartridge, drive: CartridgeDrive, m: VolumeMetadata, signal?: AbortSignal): Promise<TapeProblem[]> {
  const v = m.volume;
  const problems: TapeProblem[] = [];
  if (cart.label !== v.label) problems.push(volumeProblem('LABEL_MISMATCH', `the cartridge is ${cart.label} (meta.json), the metadata is for ${v.label}`));
  if (cart.mediaType !== v.mediaType) problems.push(volumeProblem('CONFLICT', `the cartridge is ${cart.mediaType} media, the metadata says ${v.mediaType}`));
  try {
    await checkLabel(drive, v.label, signal);
  } catch (err) {
    if (!isTapestryError(err)) throw err;
    problems.push(volumeProblem(err.code === 'BLANK_CHECK' ? 'LABEL_MISMATCH' : err.code, `VOL1 label: ${err.message}`));
  }
  // File N is complete once filemark N+1 is on tape (file 0 is VOL1), so end-of-data E needs E filemarks.
  const complete = cart.filemarkCount;
  if (complete < v.eodFileNo) {
    problems.push(volumeProblem('BLANK_CHECK', `the tape holds ${Math.max(0, complete - 1)} complete file(s) after VOL1, the metadata's end-of-data is file ${v.eodFileNo} (files up to ${v.eodFileNo - 1})`));
  } else if (complete > v.eodFileNo) {
    problems.push(volumeProblem('CONFLICT', `the tape holds ${complete - v.eodFileNo} complete file(s) after file ${v.eodFileNo - 1} that the metadata does not list (its eod_file_no is ${v.eodFileNo})`));
  }
  return problems;
}

/** Everything: the volume checks, then every listed file read in tape order. */
export async function verifyTape(cart: Cartridge, m: VolumeMetadata, signal?: AbortSignal): Promise<TapeProblem[]> {
  const drive = new CartridgeDrive(cart);
  const problems = await checkVolume(cart, drive, m, signal);
  for (const f of m.files) {
    if (f.fileNo >= cart.filemarkCount) {
      problems.push(fileProblem(f, 'BLANK_CHECK', 'not on tape (the tape ends before it)'));
      continue;
    }
    problems.push(...(await readAndCheck(drive, f, null, signal)));
  }
  return problems;
}

/**
 * Tape bytes from the beginning of tape to the start of file `eodFileNo`
 * (what the volume has used; its remaining bytes are capacity minus this).
 */
export function usedBytesBefore(cart: Cartridge, eodFileNo: number): number {
  const record = eodFileNo <= cart.filemarkCount ? cart.fileStart(eodFileNo) : cart.recordCount;
  return cart.positionOf(record).bytes;
}
