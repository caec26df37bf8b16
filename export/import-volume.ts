/**
 * `tapestry volume import-metadata <file> [--cartridge DIR]`: take a tape
 * written elsewhere (another Tapestry's export, `tapestry-tape-writer`) into
 * the catalogue.
 *
 * Order, each step refusing before the next changes anything:
 *  1. the metadata is valid (validate.ts, every problem listed);
 *  2. the label, library, media type and family fit this installation, and no
 *     volume, live path or bfid of it is known yet;
 *  3. the cartridge is available to the library: copied from `--cartridge`
 *     into a staging directory of the tapes directory, or already there;
 *  4. the tape is read end to end and must agree with the metadata (VOL1,
 *     where it ends, every file's cpio name, size and adler32) — else the whole
 *     import is refused listing every mismatch;
 *  5. the staged cartridge is moved into place, parent directories are made,
 *     and the volume and all its files are registered in ONE transaction
 *     (repo.ts says why), the files `active` at their positions.
 * A failure in step 5 takes the cartridge back out if this import put it there.
 *
 * Entering the cartridge into the robot is separate (and optional, see
 * service.ts): until the robot has it, the volume's location is `unknown`.
 */
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { uniqueViolation } from '../src/db/rows.ts';
import { withTransaction } from '../src/db/tx.ts';
import { TapestryError, type ErrorCode } from '../src/errors/index.ts';
import type { Logger } from '../src/logging/index.ts';
import { joinComponents, parsePath } from '../src/namespace/paths.ts';
import type { NamespaceService } from '../src/namespace/service.ts';
import { validateName } from '../src/namespace/tags.ts';
import { Cartridge, cartridgeExists } from '../hardware-sim/cartridge.ts';
import { allocateBfid } from '../file-clerk/repo.ts';
import { parseBfid } from '../file-clerk/bfid.ts';
import { copyCartridge } from './cartridge-copy.ts';
import { VOLUME_LABEL_RE, WRAPPER_CPIO_ODC, type VolumeMetadata } from './format.ts';
import * as repo from './repo.ts';
import { parseMetadata } from './validate.ts';
import { usedBytesBefore, verifyTape, type TapeProblem } from './verify-tape.ts';

/** Staging area inside the tapes directory (same filesystem, so the final move is a rename). Not a cartridge name. */
const STAGING_DIR = '.import';

export interface ImportDeps {
  readonly pool: pg.Pool;
  readonly log: Logger;
  readonly tapesDir: string | null;
  /** name → media type of each configured library. */
  readonly libraries: ReadonlyMap<string, { readonly mediaType: string }>;
  readonly namespace: Pick<NamespaceService, 'mkdir' | 'dirForNewFile'>;
  /** This system's bfid brand: a bfid of another brand is replaced by a new one. */
  readonly brand: string;
  readonly now: () => Date;
}

export interface ImportRequest {
  /** The parsed JSON of `<label>.metadata.json`. */
  readonly metadata: unknown;
  /** A cartridge directory on the server's host to copy into the tapes directory. */
  readonly cartridge?: string;
  readonly library?: string;
  /** Override the metadata's family. */
  readonly fileFamily?: string;
  readonly storageGroup?: string;
  readonly actor?: string;
}

export interface ImportedFileSummary {
  readonly fileNo: number;
  readonly path: string;
  readonly bfid: string;
  readonly size: number;
  readonly adler32: number;
  /** The metadata's bfid, when this one is new (null metadata bfid, or another system's). */
  readonly replacedBfid: string | null;
}

export interface ImportResult {
  readonly label: string;
  readonly library: string;
  readonly volumeFamily: string;
  readonly eodFileNo: number;
  readonly remainingBytes: number;
  readonly cartridgeDir: string;
  readonly cartridgeCopied: boolean;
  readonly files: readonly ImportedFileSummary[];
  readonly createdDirs: readonly string[];
}

const PRIORITY: readonly ErrorCode[] = ['CRC_MISMATCH', 'BAD_FILE_SIZE', 'LABEL_MISMATCH', 'MEDIA_ERROR', 'MALFORMED', 'BLANK_CHECK'];

/** One refusal for all the problems; its code is the gravest among them. */
function refusal(label: string, problems: readonly TapeProblem[]): TapestryError {
  const code = PRIORITY.find((c) => problems.some((p) => p.code === c)) ?? 'CONFLICT';
  const n = problems.length;
  return new TapestryError(code, `import of ${label} refused: the tape does not match its metadata (${n} problem${n === 1 ? '' : 's'}):\n  ${problems.map((p) => p.message).join('\n  ')}`, {
    context: { volume: label, problems: problems.map((p) => ({ fileNo: p.fileNo, path: p.path, code: p.code, message: p.message })) },
  });
}

function chooseLibrary(deps: ImportDeps, m: VolumeMetadata, wanted: string | undefined): string {
  const names = [...deps.libraries.keys()];
  const library = wanted ?? (m.volume.library !== null && deps.libraries.has(m.volume.library) ? m.volume.library : names.length === 1 ? names[0] : undefined);
  if (library === undefined) {
    throw new TapestryError('USERERROR', `which library takes ${m.volume.label}? pass --library (libraries: ${names.join(', ')})`, { context: { volume: m.volume.label } });
  }
  const lib = deps.libraries.get(library);
  if (!lib) throw new TapestryError('USERERROR', `unknown library ${JSON.stringify(library)} (libraries: ${names.join(', ')})`, { context: { library } });
  if (lib.mediaType !== m.volume.mediaType) {
    throw new TapestryError('USERERROR', `library ${library} takes ${lib.mediaType} cartridges; ${m.volume.label} is ${m.volume.mediaType}`, { context: { library, mediaType: m.volume.mediaType } });
  }
  return library;
}

async function refuseKnown(deps: ImportDeps, m: VolumeMetadata, keptBfids: readonly string[]): Promise<void> {
  const label = m.volume.label;
  if (await repo.volumeExists(deps.pool, label)) throw new TapestryError('EXISTS', `volume ${label} already exists in the catalogue; an import is refused (delete the volume first to import it again)`, { context: { volume: label } });
  const paths = await repo.livePathsTaken(deps.pool, m.files.map((f) => f.path));
  if (paths.length > 0) {
    throw new TapestryError('EXISTS', `import of ${label} refused: ${paths.length} path(s) already exist in the namespace: ${paths.map((p) => `${p.path} (bfid ${p.bfid})`).join(', ')}`, {
      context: { volume: label, paths: paths.map((p) => p.path) },
    });
  }
  const bfids = await repo.bfidsTaken(deps.pool, keptBfids);
  if (bfids.length > 0) {
    throw new TapestryError('EXISTS', `import of ${label} refused: bfid(s) already in the catalogue: ${bfids.join(', ')}`, { context: { volume: label, bfids } });
  }
}

export async function importVolume(deps: ImportDeps, req: ImportRequest): Promise<ImportResult> {
  const m = parseMetadata(req.metadata);
  const v = m.volume;
  const label = v.label;
  if (!VOLUME_LABEL_RE.test(label)) {
    throw new TapestryError('USERERROR', `volume label ${JSON.stringify(label)} cannot be imported: Tapestry volume labels are 6 to 8 capital letters and digits, e.g. TS0021L9`, { context: { volume: label } });
  }
  const library = chooseLibrary(deps, m, req.library);
  const storageGroup = validateName('storage_group', req.storageGroup ?? v.storageGroup);
  const fileFamily = validateName('file_family', req.fileFamily ?? v.fileFamily);
  // A bfid of this system is kept (the file keeps its identity); others get a new one.
  const keep = (bfid: string | null): bfid is string => bfid !== null && parseBfid(bfid)?.brand === deps.brand;
  await refuseKnown(deps, m, m.files.flatMap((f) => (keep(f.bfid) ? [f.bfid] : [])));

  if (deps.tapesDir === null) {
    throw new TapestryError('CONFLICT', 'import-metadata reads the cartridge to check it, and this installation has no simulated library (a real tape would have to be mounted in a drive for that, which is not built yet)');
  }
  const target = path.join(deps.tapesDir, label);
  let staging: string | null = null;
  if (req.cartridge !== undefined) {
    if (!path.isAbsolute(req.cartridge)) throw new TapestryError('USERERROR', `cartridge directory must be an absolute path, got ${JSON.stringify(req.cartridge)}`);
    if (!(await cartridgeExists(req.cartridge))) throw new TapestryError('NOT_FOUND', `${req.cartridge} is not a cartridge directory (no meta.json)`, { context: { cartridge: req.cartridge } });
    if (await stat(target).catch(() => null)) {
      throw new TapestryError('EXISTS', `the tapes directory already holds ${target}; import without --cartridge to check and use that one`, { context: { volume: label, target } });
    }
    staging = path.join(deps.tapesDir, STAGING_DIR, `${label}.${process.pid}.${Date.now()}`);
    await mkdir(path.dirname(staging), { recursive: true });
  } else if (!(await cartridgeExists(target))) {
    throw new TapestryError('NOT_FOUND', `no cartridge ${label} in ${deps.tapesDir}; pass --cartridge DIR to copy it in`, { context: { volume: label, tapesDir: deps.tapesDir } });
  }

  let placed = false;
  try {
    if (staging !== null) await copyCartridge(req.cartridge!, staging);
    const cart = await Cartridge.open(staging ?? target, label, { readOnly: true });
    let usedBytes: number;
    let capacityBytes: number;
    try {
      const problems = await verifyTape(cart, m);
      if (problems.length > 0) throw refusal(label, problems);
      usedBytes = usedBytesBefore(cart, v.eodFileNo);
      capacityBytes = cart.capacityBytes;
    } finally {
      await cart.close();
    }

    if (staging !== null) {
      if (await stat(target).catch(() => null)) throw new TapestryError('EXISTS', `${target} appeared while ${label} was being checked`, { context: { volume: label, target } });
      await rename(staging, target);
      staging = null;
      placed = true;
    }

    const parents = [...new Set(m.files.map((f) => joinComponents(parsePath(f.path).components.slice(0, -1))))].filter((d) => d !== '/');
    const createdDirs: string[] = [];
    for (const dir of parents) createdDirs.push(...(await deps.namespace.mkdir(dir, { parents: true })).created);

    const at = deps.now();
    const remainingBytes = Math.max(0, capacityBytes - usedBytes);
    const files = await withTransaction(deps.pool, async (tx) => {
      const volumeId = await repo.insertImportedVolume(tx, {
        label, library, mediaType: v.mediaType, capacityBytes, remainingBytes, blockSize: v.blockSize, eodFileNo: v.eodFileNo,
        storageGroup, fileFamily, wrapper: WRAPPER_CPIO_ODC, comment: `imported from ${m.exportedBy} metadata of ${m.exportedAt}`, at,
      });
      if (volumeId === null) throw new TapestryError('EXISTS', `volume ${label} already exists in the catalogue`, { context: { volume: label } });
      await repo.addVolumeHistory(tx, volumeId, {
        kind: 'imported', value: `${storageGroup}.${fileFamily}.${WRAPPER_CPIO_ODC}`, actor: req.actor ?? 'operator',
        reason: `${m.files.length} file(s), end-of-data ${v.eodFileNo}, written by ${m.exportedBy}`, at,
      });
      const rows: repo.ImportedFile[] = [];
      const summary: ImportedFileSummary[] = [];
      for (const f of m.files) {
        const dir = await deps.namespace.dirForNewFile(tx, parsePath(f.path));
        const bfid = keep(f.bfid) ? f.bfid : await allocateBfid(tx, deps.brand);
        rows.push({
          bfid, dirId: dir.dirId, name: dir.name, path: f.path, size: f.size, crc: f.adler32, sanitySize: f.sanitySize, sanityCrc: f.sanityAdler32,
          fileNo: f.fileNo, uid: f.uid, gid: f.gid, owner: f.user ?? String(f.uid), createdAt: f.createdAt, updatedAt: f.modifiedAt,
        });
        summary.push({ fileNo: f.fileNo, path: f.path, bfid, size: f.size, adler32: f.adler32, replacedBfid: bfid === f.bfid ? null : f.bfid });
      }
      try {
        await repo.insertImportedFiles(tx, volumeId, { storageGroup, fileFamily, wrapper: WRAPPER_CPIO_ODC, library }, rows);
      } catch (err) {
        const index = uniqueViolation(err);
        if (index === 'files_live_path') throw new TapestryError('EXISTS', `import of ${label} refused: a path of it was created meanwhile`, { cause: err, context: { volume: label } });
        if (index === 'files_pkey') throw new TapestryError('EXISTS', `import of ${label} refused: a bfid of it was registered meanwhile`, { cause: err, context: { volume: label } });
        throw err;
      }
      return summary;
    });

    deps.log.info({ event: 'volume.imported', volume: label, library, family: `${storageGroup}.${fileFamily}.${WRAPPER_CPIO_ODC}`, files: files.length, eodFileNo: v.eodFileNo, cartridgeCopied: placed });
    return {
      label, library, volumeFamily: `${storageGroup}.${fileFamily}.${WRAPPER_CPIO_ODC}`, eodFileNo: v.eodFileNo, remainingBytes,
      cartridgeDir: target, cartridgeCopied: placed, files, createdDirs,
    };
  } catch (err) {
    // Only what this import put in place is taken back; a cartridge that was already there stays.
    if (placed) await rm(target, { recursive: true, force: true });
    throw err;
  } finally {
    if (staging !== null) await rm(staging, { recursive: true, force: true });
  }
}
