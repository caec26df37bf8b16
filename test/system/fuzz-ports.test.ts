import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import {
  DEFAULT_MAX_FRAME_BYTES,
  FrameDecoder,
  PROTOCOL_VERSION,
  decodeDataMessage,
  decodeEnvelope,
  encodeDataMessage,
  encodeEnvelope,
  encodeFrame,
  type DataMessage,
  type Envelope,
} from '../../src/protocol/index.ts';
import { encp, tapestry, type RunningTapestry } from '../helpers/cli.ts';
import { Rng, fuzzSeed, lengthPrefixed, mutateBytes } from '../helpers/fuzz.ts';
import { withSystem } from '../helpers/system-fixture.ts';

/**
 * Bad input on the two binary ports (issue 5; docs/faults-fuzz.md): the
 * library manager's mover port and a mover's data port get random bytes,
 * mutated frames, truncated frames, oversize length prefixes and
 * valid-then-garbage sessions over many connections. A client-side oracle
 * replays each connection through the same frame decoder, codec and session
 * rules the server uses, so every connection has an exact expected outcome:
 * an ErrorReply / failed DataResult with the predicted code and a closed
 * connection, or (input that is still valid) no error at all. Afterwards the
 * process is healthy, its memory bounded, and a real encp write + read works.
 *
 * `FUZZ_SEED=<n>` replays a run; `FUZZ_FRAMES=<n>` changes the total (≥ 100,000 by default).
 */
const LIBRARY = 'lto9';
const TOTAL_FRAMES = Number(process.env.FUZZ_FRAMES ?? 100_000);
/** Share of the frames sent to the data port: one frame per connection there (the protocol has a single header). */
const DATA_SHARE = 0.12;
const CONCURRENCY = 24;
/** How long one connection may take to be answered and closed: generous, it is a hang detector. */
const CONNECTION_TIMEOUT_MS = 30_000;

const seed = fuzzSeed('fuzz-ports');
const rng = new Rng(seed);

let sys: RunningTapestry;
let env: NodeJS.ProcessEnv;
let work: string;

withSystem({ timeScale: 0.001, replace: [[/^    capacity: 18TB/m, '    capacity: 64MB'], [/^    block_size: 256KiB/m, '    block_size: 64KiB']] }, (s) => {
  ({ sys, env, work } = s);
});

// --- helpers -----------------------------------------------------------------------------------

function split(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}

/** The library manager's mover port and the movers' data ports, from the queue view once all four movers said Hello. */
async function addresses(): Promise<{ lm: string; data: Map<string, string> }> {
  for (let attempt = 0; ; attempt++) {
    const q = (await (await fetch(`${sys.url}/api/v1/libraries/${LIBRARY}/queue`)).json()) as { moverPort: string | null; movers: { name: string; dataAddress: string }[] };
    const data = new Map(q.movers.filter((m) => m.dataAddress).map((m) => [m.name, m.dataAddress]));
    if ((q.moverPort && data.size === 4) || attempt === 300) return { lm: q.moverPort ?? '', data };
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function rssBytes(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

interface Exchange {
  /** Every byte the server sent before it closed. */
  readonly received: Buffer;
  /** The server closed the connection (rather than our timeout firing). */
  readonly closedByServer: boolean;
}

/**
 * Send `bytes`; half-close at once when `endAfterSend` (the input is
 * incomplete: only our FIN can end it), else wait for the server to answer and
 * close. A connection the server neither answers nor closes fails the test.
 */
function exchange(address: string, bytes: Buffer, endAfterSend: boolean): Promise<Exchange> {
  const { host, port } = split(address);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer and no close from ${address} within ${CONNECTION_TIMEOUT_MS} ms after ${bytes.length} bytes`));
    }, CONNECTION_TIMEOUT_MS);
    socket.on('data', (c: Buffer) => chunks.push(c));
    // EPIPE/ECONNRESET: the server closed while we were still sending — an answer too.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closedByServer: true });
    });
    socket.on('connect', () => {
      socket.write(bytes);
      if (endAfterSend) socket.end();
    });
  });
}

/** Run job(0), job(1), … with CONCURRENCY at once while `more()` says so; the first failure fails the run. */
async function pool(more: (i: number) => boolean, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (let i = next++; more(i); i = next++) await job(i);
  }));
}

/** Frames in `bytes` (possibly ending in a partial one) decoded as Envelopes; undecodable ones are skipped. */
function envelopesIn(bytes: Buffer): Envelope[] {
  const dec = new FrameDecoder();
  const out: Envelope[] = [];
  try {
    for (const f of dec.feed(bytes)) out.push(decodeEnvelope(f));
  } catch {
    // The server only ever sends valid frames; a partial tail is the connection being cut.
  }
  return out;
}

// --- the library manager's mover port ----------------------------------------------------------

/** What the server must do with one connection's bytes. */
interface Verdict {
  /** Frames the server decodes and handles (the failing one included). */
  readonly frames: number;
  /** The ErrorReply code it must send, or null when the input is acceptable so far. */
  readonly code: string | null;
  /** The input ends inside a frame: the server waits for more, so only our FIN ends it. */
  readonly partial: boolean;
}

const MOVER_MAY_SEND = new Set(['heartbeat', 'state', 'done', 'ack', 'error']);

/** The library manager's session rules (library-manager/mover-session.ts and service.ts hello/onMessage), replayed. */
function lmOracle(bytes: Buffer): Verdict {
  const dec = new FrameDecoder();
  dec.push(bytes);
  let frames = 0;
  for (;;) {
    let payload: Buffer | null;
    try {
      payload = dec.next();
    } catch {
      return { frames: frames + 1, code: 'MALFORMED', partial: false };
    }
    if (payload === null) return { frames, code: null, partial: dec.buffered > 0 };
    frames++;
    let env: Envelope;
    try {
      env = decodeEnvelope(payload);
    } catch {
      return { frames, code: 'MALFORMED', partial: false };
    }
    if (frames === 1) {
      if (env.type !== 'hello' || env.hello.protocolVersion !== PROTOCOL_VERSION) return { frames, code: 'MALFORMED', partial: false };
      if (env.hello.library !== LIBRARY) return { frames, code: 'USERERROR', partial: false };
    } else if (!MOVER_MAY_SEND.has(env.type)) {
      return { frames, code: 'MALFORMED', partial: false };
    }
  }
}

function hello(name: string, library = LIBRARY): Envelope {
  return { seq: 1, type: 'hello', hello: { mover: name, drive: name, library, host: 'fuzz', dataAddress: '127.0.0.1:9', protocolVersion: PROTOCOL_VERSION } };
}

/** A valid Envelope a mover may send, with random field values; WorkDone rarely (each costs the manager a query). */
function moverEnvelope(r: Rng, seq: number): Envelope {
  const k = r.int(100);
  if (k < 40) return { seq, type: 'heartbeat', heartbeat: { sentAtMs: r.int(2 ** 31) * 1000 } };
  if (k < 70) return { seq, type: 'state', state: { state: r.pick(['idle', 'have_bound', 'busy', 'error', 'offline'] as const), volume: r.chance(0.5) ? `FZ${r.range(1000, 9999)}L9` : null, requestId: r.chance(0.5) ? String(r.u32()) : null } };
  if (k < 90) return { seq, type: 'ack', ack: { ackSeq: r.int(2 ** 31) } };
  if (k < 98) return { seq, type: 'error', error: { code: r.pick(['MALFORMED', 'DRIVE_ERROR', 'INTERNAL'] as const), message: 'fuzz' } };
  return {
    seq, type: 'done',
    done: { requestId: String(9_000_000_000 + r.u32()), ok: r.chance(0.5), errorCode: r.chance(0.5) ? 'DRIVE_ERROR' : null, message: 'fuzz', bytes: r.u32(), crc: r.u32(), fileNo: r.int(100), volume: null, bfid: null, tapeBytes: 0, sanityCrc: 0, sanitySize: 0, drive: 'fuzz' },
  };
}

/** A frame the mover must never send, or a broken frame layer, to end a session. */
function badTail(r: Rng, seq: number): Buffer {
  switch (r.int(7)) {
    case 0:
      return Buffer.from([0, 0, 0, 0]); // zero length
    case 1:
      return lengthPrefixed(r.bytes(8), DEFAULT_MAX_FRAME_BYTES + 1 + r.int(2 ** 31)); // oversize
    case 2:
      return encodeFrame(encodeEnvelope({ seq, type: 'dismount', dismount: { volume: 'TS0001L9' } }));
    case 3:
      return encodeFrame(encodeEnvelope(hello('fuzz-again'))); // a second Hello
    case 4:
      return r.bytes(r.range(4, 512)); // garbage after valid frames
    case 5:
      return lengthPrefixed(r.bytes(r.range(1, 64))); // a frame of random protobuf
    default:
      return encodeFrame(Buffer.from([0x80 | 0x7f, 0xff, 0xff])); // a truncated varint
  }
}

/** One connection's bytes: mostly long valid sessions whose frames are sometimes mutated, some pure junk. */
function lmConnection(r: Rng, i: number): Buffer {
  const name = `fuzz-${i}-${r.u32().toString(36)}`;
  const parts: Buffer[] = [];
  switch (r.int(10)) {
    case 0:
      // Purely random bytes.
      return r.bytes(r.range(1, 4096));
    case 1:
      // A mutated Hello and nothing else.
      return lengthPrefixed(mutateBytes(r, encodeEnvelope(hello(name))));
    case 2:
      // A mutated frame layer: the length prefix counts too.
      return mutateBytes(r, encodeFrame(encodeEnvelope(hello(name))));
    case 3:
      // A valid session that is not a mover's: the first frame is not a Hello, or is for another library.
      return encodeFrame(encodeEnvelope(r.chance(0.5) ? moverEnvelope(r, 1) : hello(name, 'not-this-one')));
    default: {
      parts.push(encodeFrame(encodeEnvelope(hello(name))));
      const n = r.range(50, 600);
      for (let seq = 2; seq < n; seq++) {
        const payload = encodeEnvelope(moverEnvelope(r, seq));
        // Mutated payloads that still decode are valid input (proto3 skips unknown fields): the oracle says which.
        parts.push(r.chance(0.02) ? lengthPrefixed(mutateBytes(r, payload)) : encodeFrame(payload));
      }
      const end = r.int(4);
      if (end === 0) parts.push(badTail(r, n));
      else if (end === 1) parts.push(encodeFrame(encodeEnvelope(moverEnvelope(r, n))).subarray(0, r.range(1, 6))); // truncated
      return Buffer.concat(parts);
    }
  }
}

// --- a mover's data port -------------------------------------------------------------------------

/** movers/data-channel.ts readDataFrame + data-server.ts accept, replayed: the first frame must be a header. */
function dataOracle(bytes: Buffer): { code: 'MALFORMED' | 'UNAUTHORIZED' | null; partial: boolean } {
  if (bytes.length < 4) return { code: null, partial: true };
  const length = bytes.readUInt32BE(0);
  if (length === 0 || length > DEFAULT_MAX_FRAME_BYTES) return { code: 'MALFORMED', partial: false };
  if (bytes.length < 4 + length) return { code: null, partial: true };
  let msg: DataMessage;
  try {
    msg = decodeDataMessage(bytes.subarray(4, 4 + length));
  } catch {
    return { code: 'MALFORMED', partial: false };
  }
  if (msg.type !== 'header') return { code: 'MALFORMED', partial: false };
  // A well-formed header with a token nobody expects: held, then refused.
  return { code: 'UNAUTHORIZED', partial: false };
}

function dataHeader(r: Rng): Buffer {
  return encodeDataMessage({ type: 'header', header: { token: r.bytes(16).toString('hex'), direction: r.pick(['read', 'write'] as const), size: r.int(2 ** 40), bfid: r.chance(0.5) ? `TAPESTRY${r.u32()}` : null } });
}

function dataConnection(r: Rng): Buffer {
  switch (r.int(7)) {
    case 6:
      // A valid header, then garbage where the file's bytes would be.
      return Buffer.concat([encodeFrame(dataHeader(r)), r.bytes(r.range(1, 4096))]);
    case 0:
      return r.bytes(r.range(1, 2048));
    case 1:
      return lengthPrefixed(mutateBytes(r, dataHeader(r)));
    case 2:
      return mutateBytes(r, encodeFrame(dataHeader(r)));
    case 3:
      // Not a header first: a trailer or a result.
      return encodeFrame(encodeDataMessage(r.chance(0.5)
        ? { type: 'trailer', trailer: { crcAdler32: r.u32(), size: r.int(2 ** 40) } }
        : { type: 'result', result: { ok: true, code: null, message: '', bfid: null, crc: 0, size: 0, volume: null, fileNo: 0 } }));
    case 4:
      return lengthPrefixed(r.bytes(r.range(0, 16)), r.chance(0.5) ? 0 : DEFAULT_MAX_FRAME_BYTES + 1 + r.int(2 ** 31));
    default:
      return encodeFrame(dataHeader(r)).subarray(0, r.range(1, 20)); // truncated
  }
}

// --- the tests -----------------------------------------------------------------------------------

let rssBefore = 0;

test(`the mover port and the data ports survive ${TOTAL_FRAMES} junk frames; every bad connection is told why and closed`, { timeout: 600_000 }, async () => {
  const { lm, data } = await addresses();
  assert.equal(data.size, 4, 'the four movers have published their data ports');
  rssBefore = await rssBytes(sys.child.pid!);

  // The library manager: batches of hundreds of frames per connection.
  const lmRng = rng.fork();
  const lmTarget = Math.ceil(TOTAL_FRAMES * (1 - DATA_SHARE));
  let lmFrames = 0;
  let lmConnections = 0;
  let lmBytes = 0;
  const codes = new Map<string, number>();
  const t0 = performance.now();
  await pool(() => lmFrames < lmTarget, async () => {
    const i = lmConnections++;
    const r = lmRng.fork();
    const bytes = lmConnection(r, i);
    const verdict = lmOracle(bytes);
    lmFrames += Math.max(1, verdict.frames);
    lmBytes += bytes.length;
    const ex = await exchange(lm, bytes, verdict.code === null);
    const got = envelopesIn(ex.received);
    const errors = got.filter((e) => e.type === 'error');
    const context = `connection ${i} (${bytes.length} bytes, seed ${seed}): ${bytes.subarray(0, 64).toString('hex')}…; got ${JSON.stringify(got.slice(-3))}`;
    if (verdict.code !== null) {
      assert.equal(errors.length, 1, `exactly one ErrorReply expected: ${context}`);
      const reply = errors[0]!;
      assert.ok(reply.type === 'error' && reply.error.code === verdict.code, `ErrorReply ${verdict.code} expected: ${context}`);
      assert.equal(got.at(-1), reply, `the ErrorReply is the last frame: ${context}`);
      codes.set(verdict.code, (codes.get(verdict.code) ?? 0) + 1);
    } else {
      assert.equal(errors.length, 0, `valid input must not be refused: ${context}`);
      codes.set(verdict.partial ? 'partial' : 'clean', (codes.get(verdict.partial ? 'partial' : 'clean') ?? 0) + 1);
    }
    assert.ok(ex.closedByServer, context);
  });
  const lmSeconds = (performance.now() - t0) / 1000;

  // The data ports: one header frame per connection, spread over the four movers.
  const dataRng = rng.fork();
  const dataTarget = TOTAL_FRAMES - lmFrames;
  const ports = [...data.values()];
  const dataCodes = new Map<string, number>();
  let held = 0;
  const t1 = performance.now();
  await pool((i) => i < dataTarget, async (i) => {
    const r = dataRng.fork();
    let bytes = dataConnection(r);
    let verdict = dataOracle(bytes);
    // A well-formed header with an unknown token is held (data-server.ts earlyMs) before it is
    // refused: a few of those in all, the rest are sent behind a trailer frame.
    if (verdict.code === 'UNAUTHORIZED' && held >= 8) {
      // A valid frame of the wrong kind, then the same garbage: refused at once.
      bytes = Buffer.concat([encodeFrame(encodeDataMessage({ type: 'trailer', trailer: { crcAdler32: 1, size: 0 } })), bytes]);
      verdict = dataOracle(bytes);
    }
    if (verdict.code === 'UNAUTHORIZED') held++;
    const ex = await exchange(ports[i % ports.length]!, bytes, verdict.code === null);
    const context = `data connection ${i} (${bytes.length} bytes, seed ${seed}): ${bytes.subarray(0, 64).toString('hex')}…; got ${ex.received.toString('hex').slice(0, 200)}`;
    if (verdict.code !== null) {
      assert.ok(ex.received.length >= 4, `a result frame expected: ${context}`);
      const msg = decodeDataMessage(ex.received.subarray(4, 4 + ex.received.readUInt32BE(0)));
      assert.ok(msg.type === 'result' && !msg.result.ok && msg.result.code === verdict.code, `a failed result ${verdict.code} expected: ${context}`);
    } else {
      // Input that stops inside the header: our FIN ends it; the mover may or may not get its answer out first.
      if (ex.received.length > 0) {
        const msg = decodeDataMessage(ex.received.subarray(4, 4 + ex.received.readUInt32BE(0)));
        assert.ok(msg.type === 'result' && !msg.result.ok && msg.result.code === 'MALFORMED', context);
      }
    }
    const key = verdict.code ?? 'partial';
    dataCodes.set(key, (dataCodes.get(key) ?? 0) + 1);
  });
  const dataSeconds = (performance.now() - t1) / 1000;

  const lmRate = Math.round(lmFrames / lmSeconds);
  console.log(`# [fuzz] mover port: ${lmFrames} frames (${(lmBytes / 1e6).toFixed(1)} MB) over ${lmConnections} connections in ${lmSeconds.toFixed(1)} s = ${lmRate} frames/s; outcomes ${JSON.stringify(Object.fromEntries(codes))}`);
  console.log(`# [fuzz] data ports: ${dataTarget} frames over ${dataTarget} connections in ${dataSeconds.toFixed(1)} s = ${Math.round(dataTarget / dataSeconds)} frames/s; outcomes ${JSON.stringify(Object.fromEntries(dataCodes))}`);
  assert.ok(lmFrames + dataTarget >= TOTAL_FRAMES);
  assert.ok((codes.get('MALFORMED') ?? 0) > 0 && (codes.get('USERERROR') ?? 0) > 0 && (codes.get('clean') ?? 0) > 0, 'every kind of outcome was exercised');
  assert.ok((dataCodes.get('MALFORMED') ?? 0) > 0 && (dataCodes.get('UNAUTHORIZED') ?? 0) > 0, 'every kind of data-port outcome was exercised');
});

test('after the fuzz: healthy, memory bounded, the four movers still connected, and encp writes and reads', { timeout: 120_000 }, async () => {
  assert.equal(sys.child.exitCode, null, 'tapestry is still running');
  const health = await fetch(`${sys.url}/api/v1/health`);
  assert.equal(health.status, 200);
  const rssAfter = await rssBytes(sys.child.pid!);
  console.log(`# [fuzz] rss ${(rssBefore / 1e6).toFixed(0)} MB before, ${(rssAfter / 1e6).toFixed(0)} MB after`);
  assert.ok(rssAfter < rssBefore + 256e6, `memory grew by ${((rssAfter - rssBefore) / 1e6).toFixed(0)} MB`);

  const movers = (await (await fetch(`${sys.url}/api/v1/movers`)).json()) as { name: string; connected: boolean; state: string }[];
  assert.deepEqual(movers.map((m) => [m.name, m.connected]).sort(), [['drive-1', true], ['drive-2', true], ['drive-3', true], ['drive-4', true]]);

  for (const args of [['ns', 'mkdir', '-p', '/fuzz'], ['ns', 'tag', 'set', '/fuzz', 'file_family', 'fuzz']]) {
    const c = await tapestry(args, env);
    assert.equal(c.code, 0, c.stderr);
  }
  const src = path.join(work, 'after-fuzz.dat');
  await fs.writeFile(src, randomBytes(500_000));
  const w = await encp(['--json', src, '/fuzz/after-fuzz.dat'], env);
  assert.equal(w.code, 0, w.stderr);
  const back = path.join(work, 'back.dat');
  const r = await encp(['/fuzz/after-fuzz.dat', back], env);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await fs.readFile(back), await fs.readFile(src));
});
