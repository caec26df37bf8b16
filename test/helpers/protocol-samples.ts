import { PROTOCOL_VERSION, type Assign, type DataMessage, type Envelope, type WorkDone } from '../../src/protocol/index.ts';

const assign: Assign = {
  requestId: 'req-42',
  kind: 'read',
  uniqueId: 'encp-host-1234-1',
  bfid: 'TAPESTRY17000000000000',
  volume: 'TS0001L9',
  fileNo: 7,
  size: 2 ** 40 + 3,
  storageGroup: 'cms',
  fileFamily: 'raw',
  fileFamilyWidth: 2,
  wrapper: 'cpio_odc',
  path: '/exp/raw/run1.dat',
  token: 'f00dfeed',
  dismountDelayMs: 60_000,
  crc: 0,
  sanityCrc: 0xffff_ffff,
  sanitySize: 65536,
  clientAddress: null,
};

const done: WorkDone = {
  requestId: 'req-42',
  ok: false,
  errorCode: 'CRC_MISMATCH',
  message: 'adler32 differs',
  bytes: Number.MAX_SAFE_INTEGER,
  crc: 0x11e60398,
  fileNo: 3,
  volume: 'TS0002L9',
  bfid: 'TAPESTRY17000000000001',
  tapeBytes: 1_048_576,
  sanityCrc: 123,
  sanitySize: 65536,
  drive: 'drive-1',
};

/** One Envelope of every body type, with non-default values everywhere. */
export const ENVELOPES: readonly Envelope[] = [
  { seq: 1, type: 'hello', hello: { mover: 'mover-1', drive: 'drive-1', library: 'lto9', host: 'h1', dataAddress: '10.0.0.1:9000', protocolVersion: PROTOCOL_VERSION } },
  { seq: 2, type: 'heartbeat', heartbeat: { sentAtMs: Date.UTC(2026, 0, 1) } },
  { seq: 3, type: 'state', state: { state: 'have_bound', volume: 'TS0001L9', requestId: 'req-41' } },
  { seq: 4, type: 'assign', assign },
  { seq: 5, type: 'dismount', dismount: { volume: 'TS0001L9' } },
  { seq: 6, type: 'done', done },
  { seq: 7, type: 'ack', ack: { ackSeq: 6 } },
  { seq: 2 ** 53 - 1, type: 'error', error: { code: 'MALFORMED', message: 'bad frame' } },
];

/** Defaults and nulls: what proto3 leaves off the wire must come back the same. */
export const SPARSE_ENVELOPES: readonly Envelope[] = [
  { seq: 0, type: 'state', state: { state: 'idle', volume: null, requestId: null } },
  { seq: 0, type: 'heartbeat', heartbeat: { sentAtMs: 0 } },
  { seq: 0, type: 'assign', assign: { ...assign, kind: 'write', bfid: null, volume: null, fileNo: 0, crc: null, sanityCrc: null, sanitySize: 0 } },
  { seq: 0, type: 'done', done: { ...done, ok: true, errorCode: null, message: '', volume: null, bfid: null, crc: 0 } },
  { seq: 0, type: 'ack', ack: { ackSeq: 0 } },
];

export const DATA_MESSAGES: readonly DataMessage[] = [
  { type: 'header', header: { token: 'f00dfeed', direction: 'write', size: 8 * 2 ** 30 - 1, bfid: null } },
  { type: 'header', header: { token: 't', direction: 'read', size: 0, bfid: 'TAPESTRY17000000000000' } },
  { type: 'trailer', trailer: { crcAdler32: 1, size: 0 } },
  { type: 'trailer', trailer: { crcAdler32: 0xffff_ffff, size: 2 ** 40 } },
  { type: 'result', result: { ok: true, code: null, message: '', bfid: 'B1', crc: 7, size: 9, volume: 'TS0001L9', fileNo: 4 } },
  { type: 'result', result: { ok: false, code: 'NOSPACE', message: 'full', bfid: null, crc: 0, size: 0, volume: null, fileNo: 0 } },
];
