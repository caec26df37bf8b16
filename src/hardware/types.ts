/**
 * Hardware interfaces (DESIGN §6). The movers and the library manager see only
 * these; `hardware-sim/` implements them for the simulated library, real
 * hardware gets its own implementation later.
 */

/** Robot element kinds, named as in mtx / SMC: storage slot, data transfer element, import/export (mail) slot. */
export type ElementKind = 'slot' | 'drive' | 'mailslot';

/** A robot element, 1-based as on a real changer's front panel. Text form: `S12`, `D1`, `I2`. */
export interface ElementAddress {
  readonly kind: ElementKind;
  readonly index: number;
}

export interface ElementStatus {
  readonly address: ElementAddress;
  /** Cartridge label (barcode) when the element holds one. */
  readonly label: string | null;
  /**
   * For a full drive: the element the cartridge was loaded from, as SCSI
   * changers report it ("source element address"); a dismount returns it there.
   */
  readonly source?: ElementAddress | null;
}

export interface RobotInventory {
  readonly slots: readonly ElementStatus[];
  readonly drives: readonly ElementStatus[];
  readonly mailslots: readonly ElementStatus[];
}

export type RobotState = 'ready' | 'busy' | 'jammed';

export interface RobotStatus {
  readonly state: RobotState;
  readonly slots: number;
  readonly drives: number;
  readonly mailslots: number;
}

/** Unsolicited reports from the robot (e.g. an operator opened/closed the mail slot). */
export interface RobotEvent {
  readonly kind: string;
  readonly args: readonly string[];
}

/**
 * A media changer (robot). Implementations serialise commands: a robot has one
 * accessor, so at most one command is outstanding at a time.
 */
export interface MediaChanger {
  inventory(): Promise<RobotInventory>;
  status(): Promise<RobotStatus>;
  /** Move the cartridge in storage slot `slot` into drive `drive`. */
  load(slot: number, drive: number): Promise<void>;
  /** Move the cartridge in drive `drive` (already ejected by the drive) to storage slot `slot`. */
  unload(drive: number, slot: number): Promise<void>;
  /** Move a cartridge between any two elements. */
  transfer(from: ElementAddress, to: ElementAddress): Promise<void>;
  /** Move the cartridge in `slot` to a mail slot (the given one, else the first free); returns the mail slot used. */
  eject(slot: number, mailslot?: number): Promise<number>;
  /** Move the cartridge in mail slot `mailslot` to storage slot `slot`. */
  import(mailslot: number, slot: number): Promise<void>;
  /** Subscribe to unsolicited robot events; returns an unsubscribe function. */
  onEvent(listener: (event: RobotEvent) => void): () => void;
  close(): Promise<void>;
}

/** What reading one record from tape can return. End-of-data is an error (BLANK_CHECK). */
export type TapeRecord = { readonly kind: 'data'; readonly data: Buffer } | { readonly kind: 'filemark' };

export interface TapePosition {
  /** Number of filemarks between beginning-of-tape and the head: the file number the head is in. */
  readonly fileNo: number;
  /** Record index from beginning-of-tape (blocks and filemarks both count). */
  readonly record: number;
  /** Bytes of tape between beginning-of-tape and the head; drives the locate-time model. */
  readonly bytes: number;
}

/**
 * `unthreaded`: a cartridge sits in the drive but is not threaded (just placed by
 * the robot, or ejected after unload); only then may the robot take it.
 */
export type DriveState = 'empty' | 'unthreaded' | 'loading' | 'ready' | 'unloading' | 'down';

export interface DriveStatus {
  readonly name: string;
  readonly state: DriveState;
  /** Label of the cartridge in the drive (threaded or ejected and waiting for the robot). */
  readonly label: string | null;
  readonly position: TapePosition | null;
  readonly writeProtected: boolean;
}

/**
 * A tape drive as a mover uses it. Positions are counted like `mt`: file N
 * starts after the N-th filemark; file 0 is the VOL1 label.
 */
export interface TapeDrive {
  readonly name: string;
  status(): DriveStatus;
  /** Thread the cartridge the robot placed in the drive; resolves when ready at beginning-of-tape. */
  load(signal?: AbortSignal): Promise<void>;
  /** Rewind and eject so the robot can take the cartridge. */
  unload(signal?: AbortSignal): Promise<void>;
  rewind(signal?: AbortSignal): Promise<void>;
  /** Position at the first record of file `fileNo` (after `fileNo` filemarks). */
  locateFile(fileNo: number, signal?: AbortSignal): Promise<TapePosition>;
  /** Position at end-of-data, where the next write appends. */
  spaceToEndOfData(signal?: AbortSignal): Promise<TapePosition>;
  /**
   * Read the record under the head and advance; throws BLANK_CHECK at
   * end-of-data. With `into` large enough for the record, the data lands
   * there (the record's data is a view of it), as a SCSI READ fills the
   * caller's buffer; otherwise a new buffer is allocated.
   */
  readRecord(signal?: AbortSignal, into?: Buffer): Promise<TapeRecord>;
  /** Write one block at the head; everything after the head is lost, as on real tape. */
  writeBlock(data: Buffer, signal?: AbortSignal): Promise<void>;
  writeFilemarks(count?: number, signal?: AbortSignal): Promise<void>;
  /**
   * Soak only (simulated drives): write ONE record describing a whole archive
   * by seed and length instead of its bytes; it takes the tape space and
   * transfer time of `tapeBytes` (END_OF_TAPE like real data).
   */
  writeSynthetic?(record: SyntheticRecord, signal?: AbortSignal): Promise<void>;
  /** Soak only: read the synthetic record under the head and advance; a data record there is an error. */
  readSynthetic?(signal?: AbortSignal): Promise<SyntheticRecord>;
}

/** A soak file on tape: the content of `seed` (src/checksum/synthetic.ts), `dataBytes` long, in an archive of `tapeBytes`. */
export interface SyntheticRecord {
  readonly seed: number;
  readonly dataBytes: number;
  readonly tapeBytes: number;
}
