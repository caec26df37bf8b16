/**
 * `tapestry volume export <label> --out DIR`: the volume's metadata in the open
 * format (metadata.json + files.csv) and, with the simulator, a copy of its
 * cartridge directory, standing for the physical tape that leaves with it.
 *
 * Consistency: the file list and end-of-data come from one database snapshot,
 * and the cartridge is copied only up to that end-of-data (cartridge-copy.ts),
 * so a volume that is mounted, even being appended to, exports what the
 * catalogue says is complete. Active files go into `files`; deleted files whose
 * bytes are still on tape into `deleted` (their positions stay accounted for).
 */
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { withTransaction } from '../src/db/tx.ts';
import { TapestryError } from '../src/errors/index.ts';
import type { Logger } from '../src/logging/index.ts';
import { cartridgeExists } from '../hardware-sim/cartridge.ts';
import { copyCartridgePrefix } from './cartridge-copy.ts';
import { filesCsv } from './csv.ts';
import { buildMetadata, cartridgeCopyName, filesCsvName, metadataFileName, metadataJson, WRAPPER_CPIO_ODC, type DeletedEntry, type FileEntry } from './format.ts';
import * as repo from './repo.ts';

export interface ExportDeps {
  readonly pool: pg.Pool;
  readonly log: Logger;
  /** The simulator's tapes directory; null without a simulated library (then only the metadata is written). */
  readonly tapesDir: string | null;
  /** "tapestry <version>", recorded in the document. */
  readonly exportedBy: string;
  readonly now: () => Date;
}

export interface ExportRequest {
  readonly label: string;
  /** Absolute directory on the server's host. */
  readonly out: string;
  /** Replace the files of an earlier export of this label in `out`. */
  readonly force?: boolean;
}

export interface ExportResult {
  readonly label: string;
  readonly out: string;
  readonly metadataFile: string;
  readonly csvFile: string;
  /** The cartridge copy; null without a simulated library. */
  readonly cartridgeCopy: string | null;
  readonly eodFileNo: number;
  readonly files: readonly Pick<FileEntry, 'fileNo' | 'path' | 'size' | 'adler32'>[];
  readonly deletedFiles: number;
  readonly bytes: number;
}

async function present(p: string): Promise<'file' | 'empty-dir' | 'dir' | null> {
  const st = await stat(p).catch(() => null);
  if (!st) return null;
  if (!st.isDirectory()) return 'file';
  return (await readdir(p)).length === 0 ? 'empty-dir' : 'dir';
}

/** Temp file + rename: a reader of `out` sees the old file or the whole new one. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

export async function exportVolume(deps: ExportDeps, req: ExportRequest): Promise<ExportResult> {
  const { label, out } = req;
  if (!path.isAbsolute(out)) throw new TapestryError('USERERROR', `export directory must be an absolute path, got ${JSON.stringify(out)}`, { context: { out } });

  const snapshot = await withTransaction(deps.pool, async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const vol = await repo.volumeForExport(tx, label);
    if (!vol) throw new TapestryError('NO_SUCH_VOLUME', `no volume ${label}`, { context: { volume: label } });
    if (vol.eodFileNo === null) throw new TapestryError('CONFLICT', `volume ${label} is blank (no VOL1 label yet): nothing to export`, { context: { volume: label } });
    if (vol.wrapper !== WRAPPER_CPIO_ODC) throw new TapestryError('CONFLICT', `volume ${label} has wrapper ${vol.wrapper}; the export format describes ${WRAPPER_CPIO_ODC} tapes`, { context: { volume: label } });
    return { vol, eodFileNo: vol.eodFileNo, files: await repo.filesForExport(tx, vol.id, vol.eodFileNo) };
  });
  const { vol, eodFileNo } = snapshot;

  const files: FileEntry[] = [];
  const deleted: DeletedEntry[] = [];
  for (const f of snapshot.files) {
    if (f.state === 'deleted') {
      deleted.push({ fileNo: f.fileNo, path: f.path, size: f.size, adler32: f.crc, bfid: f.bfid, deletedAt: f.deletedAt });
    } else {
      files.push({
        fileNo: f.fileNo, path: f.path, size: f.size, adler32: f.crc!, uid: f.uid, gid: f.gid, user: f.owner === '' ? null : f.owner,
        createdAt: f.createdAt, modifiedAt: f.updatedAt, bfid: f.bfid, sanitySize: f.sanitySize, sanityAdler32: f.sanityCrc,
      });
    }
  }
  const metadata = buildMetadata({
    exportedAt: deps.now(),
    exportedBy: deps.exportedBy,
    volume: {
      label, mediaType: vol.mediaType, blockSize: vol.blockSize, wrapper: WRAPPER_CPIO_ODC, storageGroup: vol.storageGroup,
      fileFamily: vol.fileFamily, library: vol.library, capacityBytes: vol.capacityBytes, eodFileNo,
    },
    files,
    deleted,
  });

  const metadataFile = path.join(out, metadataFileName(label));
  const csvFile = path.join(out, filesCsvName(label));
  const tapeCopy = deps.tapesDir === null ? null : path.join(out, cartridgeCopyName(label));
  const existing: string[] = [];
  for (const p of [metadataFile, csvFile, tapeCopy]) {
    if (p === null) continue;
    const what = await present(p);
    if (what === 'file' || what === 'dir') existing.push(p);
  }
  if (existing.length > 0 && !req.force) {
    throw new TapestryError('EXISTS', `an export of ${label} is already in ${out} (${existing.map((p) => path.basename(p)).join(', ')}); use --force to replace it`, {
      context: { volume: label, existing },
    });
  }
  await mkdir(out, { recursive: true });

  // The tape first, the metadata last: a metadata file in `out` means the export is complete.
  if (tapeCopy !== null) {
    const src = path.join(deps.tapesDir!, label);
    if (!(await cartridgeExists(src))) throw new TapestryError('NOT_FOUND', `no cartridge directory ${src} for volume ${label}`, { context: { volume: label, src } });
    const fresh = `${tapeCopy}.new-${process.pid}`;
    await rm(fresh, { recursive: true, force: true });
    await copyCartridgePrefix(src, label, fresh, eodFileNo);
    await rm(tapeCopy, { recursive: true, force: true });
    await rename(fresh, tapeCopy);
  }
  await writeAtomic(csvFile, filesCsv(metadata));
  await writeAtomic(metadataFile, metadataJson(metadata));

  const bytes = files.reduce((n, f) => n + f.size, 0);
  deps.log.info({ event: 'volume.exported', volume: label, out, files: files.length, deleted: deleted.length, bytes, eodFileNo, cartridgeCopy: tapeCopy, location: vol.location.kind });
  return {
    label, out, metadataFile, csvFile, cartridgeCopy: tapeCopy, eodFileNo,
    files: files.map((f) => ({ fileNo: f.fileNo, path: f.path, size: f.size, adler32: f.adler32 })),
    deletedFiles: deleted.length, bytes,
  };
}
