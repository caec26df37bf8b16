/**
 * Write local files to a NEW cartridge directory outside any library, in the
 * on-tape format Tapestry's movers write (movers/tape-io.ts: VOL1, then one
 * cpio ODC archive per file in fixed blocks, each closed by a filemark), and
 * describe it in the open metadata format, so `tapestry volume import-metadata`
 * can take it in (docs/export-format.md).
 */
import { createReadStream } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import { TapestryError } from '../../src/errors/index.ts';
import { parsePath } from '../../src/namespace/paths.ts';
import { validateName } from '../../src/namespace/tags.ts';
import { Cartridge } from '../../hardware-sim/cartridge.ts';
import { cpioName, CPIO_ODC_MAX_FILE_SIZE } from '../../movers/cpio-odc.ts';
import { writeFile, writeLabel } from '../../movers/tape-io.ts';
import { CartridgeDrive } from '../../export/cartridge-drive.ts';
import { buildMetadata, VOLUME_LABEL_RE, WRAPPER_CPIO_ODC, type FileEntry, type VolumeMetadata } from '../../export/format.ts';

export interface TapeFile {
  /** Local file to copy. */
  readonly source: string;
  /** Its absolute namespace path (the name in its cpio header). */
  readonly path: string;
}

export interface WriteTapeOptions {
  /** The new cartridge directory; must not exist or be empty. */
  readonly cartridgeDir: string;
  readonly label: string;
  readonly mediaType: string;
  readonly capacityBytes: number;
  readonly blockSize: number;
  readonly storageGroup: string;
  readonly fileFamily: string;
  readonly files: readonly TapeFile[];
  readonly exportedBy: string;
  readonly now?: () => Date;
  /** Called after each file is on tape (progress for people). */
  readonly onFile?: (entry: FileEntry) => void;
}

/** Refuse everything that can be refused before the first byte goes to tape, listing every problem. */
async function check(o: WriteTapeOptions): Promise<{ size: number }[]> {
  const problems: string[] = [];
  if (!VOLUME_LABEL_RE.test(o.label)) problems.push(`label ${JSON.stringify(o.label)}: Tapestry volume labels are 6 to 8 capital letters and digits, e.g. TS0021L9`);
  if (!/^[-A-Za-z0-9_]{1,64}$/.test(o.mediaType)) problems.push(`media type ${JSON.stringify(o.mediaType)}: letters, digits, "-" and "_" only`);
  if (!Number.isSafeInteger(o.blockSize) || o.blockSize < 512) problems.push(`block size ${o.blockSize}: at least 512 bytes`);
  if (!Number.isSafeInteger(o.capacityBytes) || o.capacityBytes < 1) problems.push(`capacity ${o.capacityBytes}: a positive number of bytes`);
  for (const [tag, value] of [['storage_group', o.storageGroup], ['file_family', o.fileFamily]] as const) {
    try {
      validateName(tag, value);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (o.files.length === 0) problems.push('no files to write');
  const seen = new Set<string>();
  const sizes: { size: number }[] = [];
  for (const f of o.files) {
    try {
      if (parsePath(f.path).path !== f.path) problems.push(`${f.path}: write the namespace path in normal form (${parsePath(f.path).path})`);
      cpioName(f.path);
    } catch (err) {
      problems.push((err as Error).message);
    }
    if (seen.has(f.path)) problems.push(`${f.path}: two files would get this namespace path`);
    seen.add(f.path);
    const st = await stat(f.source).catch(() => null);
    if (!st) problems.push(`${f.source}: no such file`);
    else if (!st.isFile()) problems.push(`${f.source}: not a regular file`);
    else if (st.size > CPIO_ODC_MAX_FILE_SIZE) problems.push(`${f.source}: ${st.size} bytes is over the cpio_odc limit of 8 GiB − 1`);
    sizes.push({ size: st?.size ?? 0 });
  }
  const total = sizes.reduce((n, s) => n + s.size, 0);
  if (problems.length === 0 && total > o.capacityBytes) problems.push(`the files hold ${total} bytes, more than the cartridge's capacity of ${o.capacityBytes}`);
  const existing = await readdir(o.cartridgeDir).catch(() => null);
  if (existing !== null && existing.length > 0) problems.push(`${o.cartridgeDir} exists and is not empty; the writer only makes new cartridges`);
  if (problems.length > 0) {
    throw new TapestryError('USERERROR', `cannot write the tape:\n  ${problems.join('\n  ')}`, { context: { problems } });
  }
  return sizes;
}

function userName(uid: number): string | null {
  try {
    const me = os.userInfo();
    return me.uid === uid && me.username ? me.username : null;
  } catch {
    return null;
  }
}

/** Write the cartridge and return its metadata. On failure the half-written cartridge directory is removed. */
export async function writeTape(o: WriteTapeOptions): Promise<VolumeMetadata> {
  await check(o);
  const now = o.now ?? (() => new Date());
  const cart = await Cartridge.create(o.cartridgeDir, { label: o.label, mediaType: o.mediaType, capacityBytes: o.capacityBytes });
  const entries: FileEntry[] = [];
  try {
    const drive = new CartridgeDrive(cart, 'tapestry-tape-writer');
    await writeLabel(drive, o.label);
    for (const [i, f] of o.files.entries()) {
      const st = await stat(f.source);
      const result = await writeFile(drive, {
        meta: { name: f.path, mtime: Math.floor(st.mtimeMs / 1000), uid: st.uid, gid: st.gid, mode: st.mode },
        source: createReadStream(f.source, { highWaterMark: 1024 * 1024 }),
        blockSize: o.blockSize,
        // The size seen now: a file that grows or shrinks while copied fails with BAD_FILE_SIZE.
        expectedSize: st.size,
      });
      const created = st.birthtimeMs > 0 ? st.birthtime : st.mtime;
      const entry: FileEntry = {
        fileNo: i + 1, path: f.path, size: result.dataBytes, adler32: result.crc, uid: st.uid, gid: st.gid, user: userName(st.uid),
        createdAt: created.toISOString(), modifiedAt: st.mtime.toISOString(), bfid: null,
        sanitySize: result.sanitySize, sanityAdler32: result.sanityCrc,
      };
      entries.push(entry);
      o.onFile?.(entry);
    }
    await cart.close();
  } catch (err) {
    await cart.close().catch(() => undefined);
    await rm(o.cartridgeDir, { recursive: true, force: true });
    throw err;
  }
  return buildMetadata({
    exportedAt: now(),
    exportedBy: o.exportedBy,
    volume: {
      label: o.label, mediaType: o.mediaType, blockSize: o.blockSize, wrapper: WRAPPER_CPIO_ODC, storageGroup: o.storageGroup,
      fileFamily: o.fileFamily, library: null, capacityBytes: o.capacityBytes, eodFileNo: entries.length + 1,
    },
    files: entries,
  });
}
