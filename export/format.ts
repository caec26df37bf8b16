/**
 * The open metadata format of an exported volume (docs/export-format.md): what
 * travels with a tape that leaves the library, so the tape can be read, checked
 * and imported without the catalogue that wrote it.
 *
 * Two files per volume: `<label>.metadata.json` (this module's document, the
 * one a program reads) and `<label>.files.csv` (csv.ts, the same per-file
 * columns for people and spreadsheets).
 *
 * The JSON uses snake_case keys (it is read by scripts in any language); the
 * typed objects here are camelCase like the rest of Tapestry, converted only at
 * this boundary (toDocument / validate.ts).
 */

export const METADATA_FORMAT = 'tapestry-volume-metadata';
export const METADATA_VERSION = 1;
/**
 * What Tapestry's volume clerk accepts as a volume label (volume-clerk/service.ts
 * LABEL_RE): an imported tape and one made by tapestry-tape-writer need one.
 * The format itself carries any VOL1 label (1–14 characters).
 */
export const VOLUME_LABEL_RE = /^[A-Z0-9]{6,8}$/;
/** The only wrapper this version writes and reads (one cpio ODC archive per file). */
export const WRAPPER_CPIO_ODC = 'cpio_odc';

export interface VolumeInfo {
  /** Barcode and VOL1 label (1–14 characters of A–Z a–z 0–9 _ -). */
  readonly label: string;
  readonly mediaType: string;
  /** Bytes per tape block the files were written with (the last block of a file may be short). */
  readonly blockSize: number;
  readonly wrapper: typeof WRAPPER_CPIO_ODC;
  readonly storageGroup: string;
  readonly fileFamily: string;
  /** The library the volume left; null when written outside any library. */
  readonly library: string | null;
  /** Native capacity of the cartridge; null when unknown. */
  readonly capacityBytes: number | null;
  /** End-of-data: the next file number to write. Every listed file_no is below it. */
  readonly eodFileNo: number;
}

export interface FileEntry {
  /** Position on tape: filemarks before the file (file 0 is the VOL1 label). */
  readonly fileNo: number;
  /** Absolute namespace path; the cpio archive names it without the leading '/'. */
  readonly path: string;
  readonly size: number;
  /** adler32 of the file's bytes, 1-seeded (zlib's adler32; what Enstore records). */
  readonly adler32: number;
  readonly uid: number;
  readonly gid: number;
  /** Owner's user name, when known. */
  readonly user: string | null;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly modifiedAt: string;
  /** The bit-file id in the catalogue that wrote the tape; null for a tape written outside one. */
  readonly bfid: string | null;
  /** Enstore's sanity cookie: adler32 of the first `sanitySize` bytes; both null when not recorded. */
  readonly sanitySize: number | null;
  readonly sanityAdler32: number | null;
}

/** A file deleted in the catalogue whose bytes are still on tape (listed so its position is accounted for). */
export interface DeletedEntry {
  readonly fileNo: number;
  readonly path: string;
  readonly size: number;
  readonly adler32: number | null;
  readonly bfid: string | null;
  readonly deletedAt: string | null;
}

export interface VolumeMetadata {
  readonly format: typeof METADATA_FORMAT;
  readonly version: typeof METADATA_VERSION;
  readonly exportedAt: string;
  /** Program and version that wrote the document, e.g. "tapestry 0.1.0". */
  readonly exportedBy: string;
  readonly volume: VolumeInfo;
  /** The active files, in tape order. */
  readonly files: readonly FileEntry[];
  /** Deleted files still on tape, in tape order; never extracted or imported. */
  readonly deleted: readonly DeletedEntry[];
}

export interface BuildMetadata {
  readonly exportedAt: Date | string;
  readonly exportedBy: string;
  readonly volume: VolumeInfo;
  readonly files: readonly FileEntry[];
  readonly deleted?: readonly DeletedEntry[];
}

/** The metadata of a volume, files sorted into tape order. Validate with validate.ts before trusting input. */
export function buildMetadata(input: BuildMetadata): VolumeMetadata {
  const byPosition = <T extends { fileNo: number }>(a: T, b: T): number => a.fileNo - b.fileNo;
  return {
    format: METADATA_FORMAT,
    version: METADATA_VERSION,
    exportedAt: typeof input.exportedAt === 'string' ? input.exportedAt : input.exportedAt.toISOString(),
    exportedBy: input.exportedBy,
    volume: input.volume,
    files: [...input.files].sort(byPosition),
    deleted: [...(input.deleted ?? [])].sort(byPosition),
  };
}

/** adler32 as 8 lowercase hex digits, the form `cksum`-style tools print. */
export function adler32Hex(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}

export const metadataFileName = (label: string): string => `${label}.metadata.json`;
export const filesCsvName = (label: string): string => `${label}.files.csv`;
/** The copy of a simulated cartridge directory that travels with the metadata. */
export const cartridgeCopyName = (label: string): string => `${label}.tape`;

// --- the JSON document (snake_case) ---------------------------------------------

/** The JSON-ready document, keys in a fixed order so two exports of one volume diff cleanly. */
export function toDocument(m: VolumeMetadata): Record<string, unknown> {
  const v = m.volume;
  return {
    format: m.format,
    version: m.version,
    exported_at: m.exportedAt,
    exported_by: m.exportedBy,
    volume: {
      label: v.label,
      media_type: v.mediaType,
      block_size: v.blockSize,
      wrapper: v.wrapper,
      storage_group: v.storageGroup,
      file_family: v.fileFamily,
      library: v.library,
      capacity_bytes: v.capacityBytes,
      eod_file_no: v.eodFileNo,
    },
    files: m.files.map((f) => ({
      file_no: f.fileNo,
      path: f.path,
      size: f.size,
      adler32: f.adler32,
      adler32_hex: adler32Hex(f.adler32),
      uid: f.uid,
      gid: f.gid,
      user: f.user,
      created_at: f.createdAt,
      modified_at: f.modifiedAt,
      bfid: f.bfid,
      sanity_size: f.sanitySize,
      sanity_adler32: f.sanityAdler32,
    })),
    deleted: m.deleted.map((d) => ({
      file_no: d.fileNo,
      path: d.path,
      size: d.size,
      adler32: d.adler32,
      adler32_hex: d.adler32 === null ? null : adler32Hex(d.adler32),
      bfid: d.bfid,
      deleted_at: d.deletedAt,
    })),
  };
}

/** The text of `<label>.metadata.json`: indented, one trailing newline. */
export function metadataJson(m: VolumeMetadata): string {
  return JSON.stringify(toDocument(m), null, 2) + '\n';
}
