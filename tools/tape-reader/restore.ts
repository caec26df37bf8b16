/**
 * Restore files from a cartridge directory with its metadata file, on any
 * machine: no server, no database, nothing but the two (docs/export-format.md).
 *
 * The cartridge is opened read-only, so reading a cartridge a running server
 * is writing never cuts off its tail. Each file goes to a temporary name next
 * to its target and is renamed only once its size and adler32 matched the
 * metadata: a target path never holds wrong or partial data.
 */
import { open, mkdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { TapestryError, isTapestryError, type ErrorCode } from '../../src/errors/index.ts';
import { Cartridge, cartridgeExists } from '../../hardware-sim/cartridge.ts';
import { parseVol1 } from '../../movers/vol1.ts';
import { CartridgeDrive } from '../../export/cartridge-drive.ts';
import type { FileEntry, VolumeMetadata } from '../../export/format.ts';
import { readAndCheck } from '../../export/verify-tape.ts';

export interface RestoreOptions {
  readonly cartridgeDir: string;
  readonly metadata: VolumeMetadata;
  /** Files go to `out` + their namespace path without the leading '/'. */
  readonly out: string;
  /** Only this file (its tape position); all active files when omitted. */
  readonly fileNo?: number;
  /** Overwrite existing target files (otherwise they are refused, one by one). */
  readonly force?: boolean;
  readonly signal?: AbortSignal;
}

export interface RestoredFile {
  readonly fileNo: number;
  readonly path: string;
  /** Where it was (or would have been) written; null when the path cannot be placed under `out`. */
  readonly target: string | null;
  readonly size: number;
  readonly adler32: number;
  readonly ok: boolean;
  readonly code: ErrorCode | null;
  readonly message: string | null;
}

export interface RestoreReport {
  readonly label: string;
  readonly files: readonly RestoredFile[];
  /** True only when every selected file was restored and verified. */
  readonly ok: boolean;
}

/**
 * The local path for namespace path `nsPath` below `out`: the leading '/' is
 * stripped; empty names, '.', '..' and NULs are refused, so nothing is ever
 * written outside `out`.
 */
export function targetPath(out: string, nsPath: string): string {
  const parts = nsPath.replace(/^\/+/, '').split('/');
  if (parts.length === 0 || parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))) {
    throw new TapestryError('USERERROR', `refusing to restore ${JSON.stringify(nsPath)}: empty, "." or ".." path components`, { context: { path: nsPath } });
  }
  const root = path.resolve(out);
  const target = path.resolve(root, ...parts);
  if (!target.startsWith(root + path.sep)) throw new TapestryError('USERERROR', `refusing to restore ${JSON.stringify(nsPath)} outside ${root}`, { context: { path: nsPath } });
  return target;
}

function select(m: VolumeMetadata, fileNo: number | undefined): readonly FileEntry[] {
  if (fileNo === undefined) return m.files;
  const f = m.files.find((e) => e.fileNo === fileNo);
  if (f) return [f];
  const deleted = m.deleted.find((e) => e.fileNo === fileNo);
  if (deleted) throw new TapestryError('USERERROR', `file ${fileNo} (${deleted.path}) is listed as deleted in the metadata; only active files are restored`, { context: { fileNo } });
  throw new TapestryError('NO_SUCH_FILE', `the metadata of ${m.volume.label} lists no file ${fileNo} (files: ${m.files.map((e) => e.fileNo).join(', ') || 'none'})`, { context: { fileNo } });
}

/** The wrong tape is fatal: refuse before writing anything. */
async function checkTapeLabel(cart: Cartridge, drive: CartridgeDrive, label: string, signal?: AbortSignal): Promise<void> {
  if (cart.label !== label) throw new TapestryError('LABEL_MISMATCH', `the cartridge is ${cart.label} (its meta.json), the metadata is for ${label}`, { context: { found: cart.label, expected: label } });
  await drive.rewind(signal);
  const first = await drive.readRecord(signal).catch((err: unknown) => {
    if (isTapestryError(err, 'BLANK_CHECK')) throw new TapestryError('LABEL_MISMATCH', `cartridge ${cart.label} is blank: no VOL1 label`, { context: { expected: label } });
    throw err;
  });
  if (first.kind === 'filemark') throw new TapestryError('LABEL_MISMATCH', `cartridge ${cart.label} starts with a filemark, not a VOL1 label`, { context: { expected: label } });
  parseVol1(first.data, label);
}

async function restoreOne(drive: CartridgeDrive, cart: Cartridge, f: FileEntry, options: RestoreOptions): Promise<RestoredFile> {
  const base = { fileNo: f.fileNo, path: f.path, size: f.size, adler32: f.adler32 };
  const fail = (target: string | null, code: ErrorCode, message: string): RestoredFile => ({ ...base, target, ok: false, code, message });
  let target: string;
  try {
    target = targetPath(options.out, f.path);
  } catch (err) {
    if (!isTapestryError(err)) throw err;
    return fail(null, err.code, err.message);
  }
  if (f.fileNo >= cart.filemarkCount) return fail(target, 'BLANK_CHECK', `file ${f.fileNo} (${f.path}): not on tape (the tape ends after file ${cart.filemarkCount - 1})`);
  if (!options.force && (await stat(target).catch(() => null))) return fail(target, 'EXISTS', `${target} exists; use --force to overwrite it`);

  await mkdir(path.dirname(target), { recursive: true });
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tapestry-reader-${process.pid}.tmp`);
  const fh = await open(tmp, 'w', 0o644);
  let problems;
  try {
    problems = await readAndCheck(drive, f, async (chunk) => {
      for (let done = 0; done < chunk.length; ) done += (await fh.write(chunk, done, chunk.length - done)).bytesWritten;
    }, options.signal);
    if (problems.length === 0) await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  if (problems.length > 0) {
    await unlink(tmp).catch(() => undefined);
    return fail(target, problems[0]!.code, problems.map((p) => p.message).join('; '));
  }
  const mtime = new Date(f.modifiedAt);
  await utimes(tmp, mtime, mtime);
  await rename(tmp, target);
  return { ...base, target, ok: true, code: null, message: null };
}

export async function restoreFiles(options: RestoreOptions): Promise<RestoreReport> {
  const m = options.metadata;
  const selected = select(m, options.fileNo);
  if (!(await cartridgeExists(options.cartridgeDir))) {
    throw new TapestryError('NOT_FOUND', `${options.cartridgeDir} is not a cartridge directory (no meta.json; see docs/cartridge-format.md)`, { context: { cartridge: options.cartridgeDir } });
  }
  const cart = await Cartridge.open(options.cartridgeDir, m.volume.label, { readOnly: true });
  try {
    const drive = new CartridgeDrive(cart);
    await checkTapeLabel(cart, drive, m.volume.label, options.signal);
    const files: RestoredFile[] = [];
    for (const f of selected) files.push(await restoreOne(drive, cart, f, options));
    return { label: m.volume.label, files, ok: files.every((f) => f.ok) };
  } finally {
    await cart.close();
  }
}
