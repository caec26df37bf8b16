/**
 * Copies of simulated cartridge directories (docs/cartridge-format.md): the
 * export copies a cartridge out of the library with its metadata (standing for
 * the physical tape leaving), the import copies one into the tapes directory.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { TapestryError } from '../src/errors/index.ts';
import { Cartridge, INDEX_RECORD_BYTES } from '../hardware-sim/cartridge.ts';

async function copyPrefix(from: string, to: string, bytes: number): Promise<void> {
  if (bytes === 0) return writeFile(to, '');
  // `end` is inclusive in createReadStream.
  await pipeline(createReadStream(from, { start: 0, end: bytes - 1 }), createWriteStream(to, { flags: 'wx' }));
}

/**
 * Copy the part of cartridge `src` that holds files 0 .. eodFileNo-1 and their
 * filemarks into the new directory `dest`: the prefix of `index` up to the
 * record after filemark number `eodFileNo`, and of `data` up to that record's
 * payload offset. Nothing a mover may still be writing is copied: it writes
 * only at or after end-of-data, and the catalogue moves end-of-data past a file
 * only once the file's filemark is on disk (the cartridge fsyncs at every
 * filemark). So the copy is consistent even while the volume is mounted.
 *
 * Written into `dest` + a temporary suffix and renamed, so `dest` exists only
 * once complete; meta.json (what makes a directory a cartridge) goes last.
 */
export async function copyCartridgePrefix(src: string, label: string, dest: string, eodFileNo: number): Promise<{ records: number; dataBytes: number }> {
  const cart = await Cartridge.open(src, label, { readOnly: true });
  let records: number;
  let dataBytes: number;
  try {
    if (cart.filemarkCount < eodFileNo) {
      throw new TapestryError('CONFLICT', `cartridge ${label} holds ${cart.filemarkCount} filemark(s) but the catalogue's end-of-data is file ${eodFileNo}: the catalogue and the tape disagree`, {
        context: { label, filemarks: cart.filemarkCount, eodFileNo },
      });
    }
    records = cart.fileStart(eodFileNo);
    if (records < cart.recordCount) dataBytes = cart.record(records).dataOffset;
    else if (records === 0) dataBytes = 0;
    else {
      const last = cart.record(records - 1);
      dataBytes = last.dataOffset + (last.type === 'data' ? last.size : 0);
    }
  } finally {
    await cart.close();
  }
  const tmp = `${dest}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    await copyPrefix(path.join(src, 'index'), path.join(tmp, 'index'), records * INDEX_RECORD_BYTES);
    await copyPrefix(path.join(src, 'data'), path.join(tmp, 'data'), dataBytes);
    await writeFile(path.join(tmp, 'meta.json'), await readFile(path.join(src, 'meta.json')));
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return { records, dataBytes };
}

/** Copy a whole cartridge directory (meta.json last, see above) to the new directory `dest`. */
export async function copyCartridge(src: string, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  await cp(path.join(src, 'index'), path.join(dest, 'index'), { errorOnExist: true, force: false });
  await cp(path.join(src, 'data'), path.join(dest, 'data'), { errorOnExist: true, force: false });
  await cp(path.join(src, 'meta.json'), path.join(dest, 'meta.json'), { errorOnExist: true, force: false });
}
