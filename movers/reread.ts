/**
 * Re-reading a file just written, before success is reported (Enstore's
 * `check_written_file`, reference/enstore.md §3; docs/faults-drive-media.md):
 * the trailer check only proves the mover received what encp sent, not that
 * the drive put it on tape intact.
 */
import { isTapestryError, TapestryError } from '../src/errors/index.ts';
import type { TapeDrive } from '../src/hardware/types.ts';
import { readFile, readSyntheticFile } from './tape-io.ts';

/** Whether this written file is re-read: 1 in `oneIn` (0 or less: never), `random` in [0, 1). */
export function shouldReread(oneIn: number, random: () => number): boolean {
  if (!(oneIn > 0)) return false;
  return oneIn === 1 || random() * oneIn < 1;
}

/**
 * Locate back to `fileNo`, read it to its filemark and compare size and
 * adler32 with what was written. What the drive reads back differently
 * (another CRC, another size, a broken archive) is CRC_MISMATCH; a drive or
 * media error while reading stays what it is.
 */
export async function rereadWritten(drive: TapeDrive, fileNo: number, written: { size: number; crc: number; blockSize: number; synthetic: boolean }): Promise<void> {
  const mismatch = (detail: string, cause?: unknown): TapestryError =>
    new TapestryError('CRC_MISMATCH', `re-read of file ${fileNo} after writing it: ${detail}`, { context: { fileNo, drive: drive.name, reread: true }, ...(cause ? { cause } : {}) });
  if (written.synthetic) {
    const r = await readSyntheticFile(drive, fileNo);
    if (r.size !== written.size || r.crc !== written.crc) throw mismatch(`read back adler32 ${r.crc} over ${r.size} bytes, wrote ${written.crc} over ${written.size}`);
    return;
  }
  try {
    const reader = readFile(drive, fileNo, { expectedSize: written.size, expectedCrc: written.crc, bufferBytes: written.blockSize });
    for await (const _chunk of reader) {
      // Only the checksum matters; the chunks are reused buffers.
    }
    await reader.result;
  } catch (err) {
    if (isTapestryError(err) && (err.code === 'CRC_MISMATCH' || err.code === 'BAD_FILE_SIZE' || err.code === 'MALFORMED')) throw mismatch(err.message, err);
    throw err;
  }
}
