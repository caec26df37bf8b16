/**
 * The plain, typed shape of every protocol message (STYLE: decode at the
 * boundary; protobuf classes stay out of domain logic). `codec.ts` converts
 * between these and the generated classes of `mover.proto` / `data.proto`.
 *
 * Conventions: 64-bit integers are numbers (decoding refuses values above
 * 2^53 − 1); an optional string that proto3 sends as "" is `null` here; error
 * codes are catalogue codes (src/errors/codes.ts).
 */
import type { ErrorCode } from '../errors/index.ts';

/** Bump when a change must not be misread by an older peer; sent in Hello. */
export const PROTOCOL_VERSION = 1;

// --- mover <-> library manager (mover.proto) -------------------------------------

export type MoverStateName = 'idle' | 'have_bound' | 'busy' | 'error' | 'offline';
export type TransferKind = 'read' | 'write';

export interface Hello {
  readonly mover: string;
  readonly drive: string;
  readonly library: string;
  readonly host: string;
  /** `host:port` where encp connects for the data channel. */
  readonly dataAddress: string;
  readonly protocolVersion: number;
  /** The request the mover is working on (absent: none); a library manager taking over adopts it. */
  readonly requestId?: string;
  /** Requests whose WorkDone was never acknowledged; the mover re-sends them right after the Hello. */
  readonly doneRequestIds?: readonly string[];
}

export interface Heartbeat {
  readonly sentAtMs: number;
}

export interface MoverState {
  readonly state: MoverStateName;
  /** Label of the mounted (bound) volume. */
  readonly volume: string | null;
  /** Request being served. */
  readonly requestId: string | null;
}

export interface Assign {
  readonly requestId: string;
  readonly kind: TransferKind;
  readonly uniqueId: string;
  /** Reads: the file. Writes: the bfid allocated for it, when already known. */
  readonly bfid: string | null;
  /** Reads: the volume to mount. Writes: null (the mover asks the volume clerk). */
  readonly volume: string | null;
  /** Reads: position on tape. Writes: 0. */
  readonly fileNo: number;
  readonly size: number;
  readonly storageGroup: string;
  readonly fileFamily: string;
  readonly fileFamilyWidth: number;
  /** `cpio_odc` is the only wrapper so far. */
  readonly wrapper: string;
  /** Namespace path (the cpio header name without its leading '/'). */
  readonly path: string;
  /** One-time token encp presents on the data channel. */
  readonly token: string;
  readonly dismountDelayMs: number;
  /** Reads: the catalogue's adler32 of the data; null for writes. */
  readonly crc: number | null;
  /** Reads: adler32 of the first `sanitySize` bytes; null for writes. */
  readonly sanityCrc: number | null;
  readonly sanitySize: number;
  /**
   * Writes: `host:port` of encp's callback listener; the mover connects there
   * (the receiving side opens the data connection). null: encp connects to
   * the mover's data port.
   */
  readonly clientAddress: string | null;
}

export interface Dismount {
  readonly volume: string;
}

export interface WorkDone {
  readonly requestId: string;
  readonly ok: boolean;
  /** Set when !ok. */
  readonly errorCode: ErrorCode | null;
  readonly message: string;
  /** Data bytes transferred (the file size when ok). */
  readonly bytes: number;
  /** adler32 (1-seeded) of the data bytes. */
  readonly crc: number;
  readonly fileNo: number;
  readonly volume: string | null;
  readonly bfid: string | null;
  /** Bytes of tape the file used (the whole cpio archive). */
  readonly tapeBytes: number;
  readonly sanityCrc: number;
  readonly sanitySize: number;
  readonly drive: string;
}

export interface Ack {
  readonly ackSeq: number;
}

export interface ErrorReply {
  readonly code: ErrorCode;
  readonly message: string;
}

/** What each Envelope body carries, by its `type`. */
export interface EnvelopeBodies {
  hello: Hello;
  heartbeat: Heartbeat;
  state: MoverState;
  assign: Assign;
  dismount: Dismount;
  done: WorkDone;
  ack: Ack;
  error: ErrorReply;
}

export type EnvelopeType = keyof EnvelopeBodies;

/**
 * One message of the mover session: `{seq, type: 'assign', assign: {...}}`.
 * Narrow on `type`: `if (env.type === 'assign') env.assign.requestId`.
 */
export type Envelope = {
  [K in EnvelopeType]: { readonly seq: number; readonly type: K } & { readonly [P in K]: EnvelopeBodies[K] };
}[EnvelopeType];

// --- encp <-> mover data channel (data.proto) -------------------------------------

/** `read`: tape → encp; `write`: encp → tape. */
export type Direction = 'read' | 'write';

export interface DataHeader {
  readonly token: string;
  readonly direction: Direction;
  readonly size: number;
  readonly bfid: string | null;
}

export interface DataTrailer {
  /** adler32 (1-seeded, the standard) of the bytes encp sent. */
  readonly crcAdler32: number;
  readonly size: number;
}

export interface DataResult {
  readonly ok: boolean;
  /** Set when !ok. */
  readonly code: ErrorCode | null;
  readonly message: string;
  readonly bfid: string | null;
  readonly crc: number;
  readonly size: number;
  readonly volume: string | null;
  readonly fileNo: number;
}

export interface DataBodies {
  header: DataHeader;
  trailer: DataTrailer;
  result: DataResult;
}

export type DataType = keyof DataBodies;

/** One frame of the data channel: `{type: 'header', header: {...}}`. */
export type DataMessage = {
  [K in DataType]: { readonly type: K } & { readonly [P in K]: DataBodies[K] };
}[DataType];
