/**
 * The shapes of the reports (Enstore's `enstore info --list`, `--vols`,
 * `--pvols`, the inquisitor's quota/usage and drive pages; reference/enstore.md
 * §7). They are what `GET /api/v1/reports/<name>` returns and what the CLI
 * formats: plain data, timestamps as ISO strings, byte counts as numbers.
 */

export type LocationKind = 'slot' | 'drive' | 'mailslot' | 'shelf' | 'unknown';

/** Where a cartridge is, for people: `inLibrary` null when nobody knows. */
export interface LocationView {
  readonly kind: LocationKind;
  readonly ref: string | null;
  readonly inLibrary: boolean | null;
  /** `slot 5`, `drive drive-2`, `mail slot 1`, `shelf (vault B)`, `unknown`. */
  readonly where: string;
}

export interface InhibitsView {
  readonly systemAccess: string;
  readonly systemState: string;
  readonly userAccess: string;
  readonly userState: string;
}

// --- files --volume V ... -----------------------------------------------------------

/** A file with a position on one of the volumes asked for, in tape order. */
export interface VolumeFile {
  readonly volume: string;
  readonly fileNo: number;
  readonly bfid: string;
  readonly size: number;
  readonly crc: number | null;
  readonly path: string;
  /** writing | active | deleted | abandoned (a failed write that kept its position). */
  readonly state: string;
  readonly createdAt: string;
}

/** One end of a volume's age span. */
export interface FileAge {
  readonly path: string;
  readonly bfid: string;
  readonly createdAt: string;
}

export interface VolumeSpan {
  readonly volume: string;
  readonly volumeFamily: string;
  readonly activeFiles: number;
  readonly activeBytes: number;
  /** The active file written first and last (by creation time); null without active files. */
  readonly oldest: FileAge | null;
  readonly youngest: FileAge | null;
}

export interface FilesReport {
  readonly volumes: readonly VolumeSpan[];
  readonly files: readonly VolumeFile[];
}

// --- where <path> ---------------------------------------------------------------------

export interface WhereFile {
  readonly path: string;
  readonly bfid: string;
  readonly state: string;
  readonly size: number;
  readonly library: string;
  readonly volume: string | null;
  readonly fileNo: number | null;
  /** Null while the file has no volume yet (being written). */
  readonly location: LocationView | null;
}

export interface WhereReport {
  readonly path: string;
  readonly kind: 'file' | 'directory';
  readonly files: readonly WhereFile[];
  /** More files than `limit` lie under the directory. */
  readonly truncated: boolean;
}

// --- family <F> [--older-than DATE] ---------------------------------------------------

export interface FamilyVolume {
  readonly label: string;
  readonly library: string;
  readonly volumeFamily: string;
  readonly activeFiles: number;
  readonly activeBytes: number;
  readonly remainingBytes: number;
  readonly mounts: number;
  readonly lastMountAt: string | null;
  /** Creation time of its youngest live (not deleted) file. */
  readonly youngestFileAt: string | null;
  readonly location: LocationView;
  readonly inhibits: InhibitsView;
}

export interface FamilyReport {
  readonly family: string;
  readonly library: string | null;
  /** With a cutoff, only the volumes in the library whose live files are all older than it. */
  readonly olderThan: string | null;
  /** Volumes of the family, before the cutoff filter. */
  readonly familyVolumes: number;
  readonly volumes: readonly FamilyVolume[];
}

// --- volumes [--inhibited] --------------------------------------------------------------

export interface VolumeLine {
  readonly label: string;
  readonly library: string;
  readonly volumeFamily: string;
  readonly mounts: number;
  readonly lastMountAt: string | null;
  readonly activeFiles: number;
  readonly remainingBytes: number;
  readonly location: LocationView;
  readonly inhibits: InhibitsView;
}

export interface VolumesReport {
  readonly inhibitedOnly: boolean;
  readonly volumes: readonly VolumeLine[];
}

// --- usage --------------------------------------------------------------------------------

export interface UsageLine {
  readonly library: string;
  readonly storageGroup: string;
  /** Null on a storage group's total line. */
  readonly fileFamily: string | null;
  readonly volumes: number;
  readonly activeFiles: number;
  readonly activeBytes: number;
  /** Sum of the volumes' remaining bytes. */
  readonly freeBytes: number;
}

export interface UsageReport {
  readonly families: readonly UsageLine[];
  readonly storageGroups: readonly UsageLine[];
}

// --- drives, volume-stats -----------------------------------------------------------------

export interface TransferCounts {
  /** Transfers that ended well / failed, per direction (one per assignment to a mover). */
  readonly reads: number;
  readonly writes: number;
  readonly readErrors: number;
  readonly writeErrors: number;
  /** Bytes of the transfers that ended well. */
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly lastErrorAt: string | null;
  readonly lastError: string | null;
}

export interface DriveLine extends TransferCounts {
  readonly drive: string;
  readonly library: string;
  /** up | down | offline (an operator took its mover offline). */
  readonly state: string;
  readonly mounts: number;
}

export interface VolumeStatsLine extends TransferCounts {
  readonly label: string;
  readonly library: string;
  readonly mounts: number;
  readonly lastMountAt: string | null;
}
