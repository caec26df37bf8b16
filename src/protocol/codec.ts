/**
 * The boundary between the wire and the domain: plain typed objects
 * (`types.ts`) in, protobuf bytes out, and back. Nothing outside this file
 * touches the generated classes.
 *
 * Decoding never throws anything but TapestryError('MALFORMED'): garbage,
 * a missing oneof body, an unknown enum value, a 64-bit number above 2^53 − 1.
 * Encoding an out-of-range number is a bug in the caller (INTERNAL).
 */
import { TapestryError, isErrorCode, type ErrorCode } from '../errors/index.ts';
import { encodeFrame } from './frames.ts';
import { tapestry as dataRoot } from './generated/data.js';
import { tapestry as moverRoot } from './generated/mover.js';
import type {
  Assign,
  DataHeader,
  DataMessage,
  DataResult,
  DataTrailer,
  Direction,
  Envelope,
  EnvelopeBodies,
  EnvelopeType,
  Hello,
  MoverStateName,
  TransferKind,
  WorkDone,
} from './types.ts';

const pb = moverRoot.mover;
const dpb = dataRoot.data;

/** A protobufjs 64-bit value: a number, or a Long when the `long` package is present (it is). */
type Wide = number | { toNumber(): number } | null | undefined;

function malformed(message: string, cause?: unknown): TapestryError {
  return new TapestryError('MALFORMED', message, cause === undefined ? {} : { cause });
}

// --- numbers ------------------------------------------------------------------------

function u64In(value: Wide, field: string): number {
  if (value === null || value === undefined) return 0;
  const n = typeof value === 'number' ? value : value.toNumber();
  if (!Number.isSafeInteger(n) || n < 0) throw malformed(`${field} ${n} is not a non-negative integer below 2^53`);
  return n;
}

function u64Out(n: number, field: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new TapestryError('INTERNAL', `cannot encode ${field} = ${n}: not a non-negative safe integer`);
  return n;
}

function u32Out(n: number, field: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new TapestryError('INTERNAL', `cannot encode ${field} = ${n}: not a uint32`);
  return n;
}

// --- strings and codes ----------------------------------------------------------------

/** proto3 sends an absent string as "": that is null here. */
const optIn = (s: string | null | undefined): string | null => (s ? s : null);
const optOut = (s: string | null): string => s ?? '';

/**
 * An error code from a peer. One this build does not know (a newer peer) is
 * kept in the message and reported as INTERNAL rather than dropping the
 * whole message: a transfer result must not be lost over a new code.
 */
function codeIn(raw: string | null | undefined, message: string): { code: ErrorCode | null; message: string } {
  if (!raw) return { code: null, message };
  if (isErrorCode(raw)) return { code: raw, message };
  return { code: 'INTERNAL', message: `[${raw}] ${message}` };
}

// --- enums ------------------------------------------------------------------------------

function enumMaps<T extends string>(pairs: readonly (readonly [T, number])[]): { out: ReadonlyMap<T, number>; in: ReadonlyMap<number, T> } {
  return { out: new Map(pairs), in: new Map(pairs.map(([name, value]) => [value, name])) };
}

function enumIn<T>(map: ReadonlyMap<number, T>, value: number | null | undefined, field: string): T {
  const name = map.get(value ?? 0);
  if (name === undefined) throw malformed(`${field}: unknown or unspecified value ${value ?? 0}`);
  return name;
}

function enumOut<T>(map: ReadonlyMap<T, number>, name: T, field: string): number {
  const value = map.get(name);
  if (value === undefined) throw new TapestryError('INTERNAL', `cannot encode ${field} = ${String(name)}`);
  return value;
}

const STATES = enumMaps<MoverStateName>([
  ['idle', pb.MoverStateKind.MOVER_STATE_KIND_IDLE],
  ['have_bound', pb.MoverStateKind.MOVER_STATE_KIND_HAVE_BOUND],
  ['busy', pb.MoverStateKind.MOVER_STATE_KIND_BUSY],
  ['error', pb.MoverStateKind.MOVER_STATE_KIND_ERROR],
  ['offline', pb.MoverStateKind.MOVER_STATE_KIND_OFFLINE],
]);
const KINDS = enumMaps<TransferKind>([
  ['read', pb.TransferKind.TRANSFER_KIND_READ],
  ['write', pb.TransferKind.TRANSFER_KIND_WRITE],
]);
const DIRECTIONS = enumMaps<Direction>([
  ['read', dpb.Direction.DIRECTION_READ],
  ['write', dpb.Direction.DIRECTION_WRITE],
]);

/** A Node Buffer view of the writer's bytes (no copy). */
function bytes(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

function decodeWith<T>(what: string, buf: Uint8Array, decode: (b: Uint8Array) => T): T {
  try {
    return decode(buf);
  } catch (cause) {
    throw malformed(`undecodable ${what} (${buf.length} bytes): ${(cause as Error)?.message ?? String(cause)}`, cause);
  }
}

// --- mover <-> library manager -----------------------------------------------------------

function assignOut(a: Assign): moverRoot.mover.Assign.$Properties {
  return {
    requestId: a.requestId,
    kind: enumOut(KINDS.out, a.kind, 'Assign.kind'),
    uniqueId: a.uniqueId,
    bfid: optOut(a.bfid),
    volume: optOut(a.volume),
    fileNo: u32Out(a.fileNo, 'Assign.fileNo'),
    size: u64Out(a.size, 'Assign.size'),
    storageGroup: a.storageGroup,
    fileFamily: a.fileFamily,
    fileFamilyWidth: u32Out(a.fileFamilyWidth, 'Assign.fileFamilyWidth'),
    wrapper: a.wrapper,
    path: a.path,
    token: a.token,
    dismountDelayMs: u32Out(a.dismountDelayMs, 'Assign.dismountDelayMs'),
    // null stays absent: proto3 `optional` keeps 0 and "not sent" apart.
    ...(a.crc === null ? {} : { crc: u32Out(a.crc, 'Assign.crc') }),
    ...(a.sanityCrc === null ? {} : { sanityCrc: u32Out(a.sanityCrc, 'Assign.sanityCrc') }),
    sanitySize: u64Out(a.sanitySize, 'Assign.sanitySize'),
    clientAddress: optOut(a.clientAddress),
  };
}

function assignIn(m: moverRoot.mover.Assign.$Properties): Assign {
  return {
    requestId: m.requestId ?? '',
    kind: enumIn(KINDS.in, m.kind, 'Assign.kind'),
    uniqueId: m.uniqueId ?? '',
    bfid: optIn(m.bfid),
    volume: optIn(m.volume),
    fileNo: m.fileNo ?? 0,
    size: u64In(m.size, 'Assign.size'),
    storageGroup: m.storageGroup ?? '',
    fileFamily: m.fileFamily ?? '',
    fileFamilyWidth: m.fileFamilyWidth ?? 0,
    wrapper: m.wrapper ?? '',
    path: m.path ?? '',
    token: m.token ?? '',
    dismountDelayMs: m.dismountDelayMs ?? 0,
    crc: m.crc ?? null,
    sanityCrc: m.sanityCrc ?? null,
    sanitySize: u64In(m.sanitySize, 'Assign.sanitySize'),
    clientAddress: optIn(m.clientAddress),
  };
}

function doneOut(d: WorkDone): moverRoot.mover.WorkDone.$Properties {
  return {
    requestId: d.requestId,
    ok: d.ok,
    errorCode: optOut(d.errorCode),
    message: d.message,
    bytes: u64Out(d.bytes, 'WorkDone.bytes'),
    crc: u32Out(d.crc, 'WorkDone.crc'),
    fileNo: u32Out(d.fileNo, 'WorkDone.fileNo'),
    volume: optOut(d.volume),
    bfid: optOut(d.bfid),
    tapeBytes: u64Out(d.tapeBytes, 'WorkDone.tapeBytes'),
    sanityCrc: u32Out(d.sanityCrc, 'WorkDone.sanityCrc'),
    sanitySize: u64Out(d.sanitySize, 'WorkDone.sanitySize'),
    drive: d.drive,
  };
}

function doneIn(m: moverRoot.mover.WorkDone.$Properties): WorkDone {
  const { code, message } = codeIn(m.errorCode, m.message ?? '');
  return {
    requestId: m.requestId ?? '',
    ok: m.ok ?? false,
    errorCode: code,
    message,
    bytes: u64In(m.bytes, 'WorkDone.bytes'),
    crc: m.crc ?? 0,
    fileNo: m.fileNo ?? 0,
    volume: optIn(m.volume),
    bfid: optIn(m.bfid),
    tapeBytes: u64In(m.tapeBytes, 'WorkDone.tapeBytes'),
    sanityCrc: m.sanityCrc ?? 0,
    sanitySize: u64In(m.sanitySize, 'WorkDone.sanitySize'),
    drive: m.drive ?? '',
  };
}

function helloIn(m: moverRoot.mover.Hello.$Properties): Hello {
  return {
    mover: m.mover ?? '',
    drive: m.drive ?? '',
    library: m.library ?? '',
    host: m.host ?? '',
    dataAddress: m.dataAddress ?? '',
    protocolVersion: m.protocolVersion ?? 0,
    // Absent rather than empty, so a Hello of an older mover decodes as it always did.
    ...(m.requestId ? { requestId: m.requestId } : {}),
    ...(m.doneRequestIds && m.doneRequestIds.length > 0 ? { doneRequestIds: [...m.doneRequestIds] } : {}),
  };
}

export function encodeEnvelope(env: Envelope): Buffer {
  const m: moverRoot.mover.Envelope.$Properties = { seq: u64Out(env.seq, 'Envelope.seq') };
  switch (env.type) {
    case 'hello':
      m.hello = { ...env.hello, protocolVersion: u32Out(env.hello.protocolVersion, 'Hello.protocolVersion'), requestId: env.hello.requestId ?? '', doneRequestIds: [...(env.hello.doneRequestIds ?? [])] };
      break;
    case 'heartbeat':
      m.heartbeat = { sentAtMs: u64Out(env.heartbeat.sentAtMs, 'Heartbeat.sentAtMs') };
      break;
    case 'state':
      m.state = {
        state: enumOut(STATES.out, env.state.state, 'MoverState.state'),
        volume: optOut(env.state.volume),
        requestId: optOut(env.state.requestId),
      };
      break;
    case 'assign':
      m.assign = assignOut(env.assign);
      break;
    case 'dismount':
      m.dismount = { volume: env.dismount.volume };
      break;
    case 'done':
      m.done = doneOut(env.done);
      break;
    case 'ack':
      m.ack = { ackSeq: u64Out(env.ack.ackSeq, 'Ack.ackSeq') };
      break;
    case 'error':
      m.error = { code: env.error.code, message: env.error.message };
      break;
  }
  return bytes(pb.Envelope.encode(m).finish());
}

export function decodeEnvelope(buf: Uint8Array): Envelope {
  const m = decodeWith('Envelope', buf, (b) => pb.Envelope.decode(b));
  const seq = u64In(m.seq, 'Envelope.seq');
  switch (m.body) {
    case 'hello':
      return { seq, type: 'hello', hello: helloIn(m.hello) };
    case 'heartbeat':
      return { seq, type: 'heartbeat', heartbeat: { sentAtMs: u64In(m.heartbeat.sentAtMs, 'Heartbeat.sentAtMs') } };
    case 'state':
      return {
        seq,
        type: 'state',
        state: { state: enumIn(STATES.in, m.state.state, 'MoverState.state'), volume: optIn(m.state.volume), requestId: optIn(m.state.requestId) },
      };
    case 'assign':
      return { seq, type: 'assign', assign: assignIn(m.assign) };
    case 'dismount':
      return { seq, type: 'dismount', dismount: { volume: m.dismount.volume ?? '' } };
    case 'done':
      return { seq, type: 'done', done: doneIn(m.done) };
    case 'ack':
      return { seq, type: 'ack', ack: { ackSeq: u64In(m.ack.ackSeq, 'Ack.ackSeq') } };
    case 'error': {
      const { code, message } = codeIn(m.error.code, m.error.message ?? '');
      return { seq, type: 'error', error: { code: code ?? 'INTERNAL', message } };
    }
    default:
      throw malformed('Envelope without a body');
  }
}

// --- encp <-> mover data channel -----------------------------------------------------------

function headerIn(m: dataRoot.data.DataHeader.$Properties): DataHeader {
  return {
    token: m.token ?? '',
    direction: enumIn(DIRECTIONS.in, m.direction, 'DataHeader.direction'),
    size: u64In(m.size, 'DataHeader.size'),
    bfid: optIn(m.bfid),
  };
}

function resultIn(m: dataRoot.data.DataResult.$Properties): DataResult {
  const { code, message } = codeIn(m.code, m.message ?? '');
  return {
    ok: m.ok ?? false,
    code,
    message,
    bfid: optIn(m.bfid),
    crc: m.crc ?? 0,
    size: u64In(m.size, 'DataResult.size'),
    volume: optIn(m.volume),
    fileNo: m.fileNo ?? 0,
  };
}

export function encodeDataMessage(msg: DataMessage): Buffer {
  const m: dataRoot.data.DataFrame.$Properties = {};
  switch (msg.type) {
    case 'header': {
      const h = msg.header;
      m.header = { token: h.token, direction: enumOut(DIRECTIONS.out, h.direction, 'DataHeader.direction'), size: u64Out(h.size, 'DataHeader.size'), bfid: optOut(h.bfid) };
      break;
    }
    case 'trailer':
      m.trailer = { crcAdler32: u32Out(msg.trailer.crcAdler32, 'DataTrailer.crcAdler32'), size: u64Out(msg.trailer.size, 'DataTrailer.size') };
      break;
    case 'result': {
      const r = msg.result;
      m.result = {
        ok: r.ok,
        code: optOut(r.code),
        message: r.message,
        bfid: optOut(r.bfid),
        crc: u32Out(r.crc, 'DataResult.crc'),
        size: u64Out(r.size, 'DataResult.size'),
        volume: optOut(r.volume),
        fileNo: u32Out(r.fileNo, 'DataResult.fileNo'),
      };
      break;
    }
  }
  return bytes(dpb.DataFrame.encode(m).finish());
}

export function decodeDataMessage(buf: Uint8Array): DataMessage {
  const m = decodeWith('DataFrame', buf, (b) => dpb.DataFrame.decode(b));
  switch (m.body) {
    case 'header':
      return { type: 'header', header: headerIn(m.header) };
    case 'trailer': {
      const trailer: DataTrailer = { crcAdler32: m.trailer.crcAdler32 ?? 0, size: u64In(m.trailer.size, 'DataTrailer.size') };
      return { type: 'trailer', trailer };
    }
    case 'result':
      return { type: 'result', result: resultIn(m.result) };
    default:
      throw malformed('DataFrame without a body');
  }
}

/**
 * The frame of one Envelope `{seq, type, [type]: body}`: what both ends of the
 * mover session write (library-manager/mover-session.ts, movers/mover.ts).
 */
export function envelopeFrame<K extends EnvelopeType>(seq: number, type: K, body: EnvelopeBodies[K]): Buffer {
  return encodeFrame(encodeEnvelope({ seq, type, [type]: body } as unknown as Envelope));
}
