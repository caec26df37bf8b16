import net from 'node:net';
import os from 'node:os';
import { isTapestryError, TapestryError, type ErrorCode } from '../src/errors/index.ts';
import { errorSpec } from '../src/errors/codes.ts';
import type { TapeDrive } from '../src/hardware/types.ts';
import type { Logger } from '../src/logging/index.ts';
import { decodeEnvelope, envelopeFrame, FrameDecoder, PROTOCOL_VERSION, type Assign, type Envelope, type EnvelopeBodies, type EnvelopeType, type MoverStateName, type WorkDone } from '../src/protocol/index.ts';
import type { Clock } from '../src/time/clock.ts';
import { answerError, dataFrame, rawBytes, readDataFrame, sendChunk, writeAll } from './data-channel.ts';
import { ChunkReader } from './chunk-reader.ts';
import { DataServer, type DataConnection } from './data-server.ts';
import { connectReceiving, splitHostPort } from './receive-ring.ts';
import { checkLabel, readFile, writeFile, writeLabel, writeSyntheticFile } from './tape-io.ts';
import { rereadWritten, shouldReread } from './reread.ts';

/** Robot moves for this mover's drive (the media changer service, in-process or remote). */
export interface MoverChanger {
  mount(label: string, drive: string): Promise<unknown>;
  /** Returns the slot the cartridge went back to. */
  dismount(label: string, drive: string): Promise<{ toSlot?: number }>;
}

/** The catalogue calls a mover makes (file and volume clerks). */
export interface MoverCatalogue {
  volume(label: string): Promise<{ eodFileNo: number | null; blockSize: number }>;
  /** After VOL1 is on a blank tape: end-of-data becomes 1. */
  labelled(label: string, tapeBytes: number): Promise<void>;
  /**
   * The file's bytes and filemark are on tape and encp's CRC matched ours:
   * position, end-of-data and activation, in that order (DESIGN §4: never
   * active before the volume's end-of-data has moved past it).
   */
  registerWrite(w: { bfid: string; volume: string; fileNo: number; drive: string; tapeBytes: number; crc: number }): Promise<void>;
  recordRead(volume: string): Promise<void>;
  recordMount(volume: string, drive: string): Promise<void>;
  recordDismount(volume: string, slot: number | null): Promise<void>;
}

export interface MoverDeps {
  readonly name: string;
  readonly library: string;
  readonly drive: TapeDrive;
  readonly changer: MoverChanger;
  readonly catalogue: MoverCatalogue;
  readonly clock: Clock;
  readonly log: Logger;
  /** `host:port` of the library manager's mover port. */
  readonly lmAddress: () => Promise<string>;
  readonly dataHost?: string;
  readonly heartbeatMs?: number;
  /** How long to wait for encp on the data channel after an assignment. */
  readonly dataTimeoutMs?: number;
  /**
   * Soak only (tools/soak): the seed of a synthetic write, or null for real
   * data. The client then sends no data bytes, only the trailer with the
   * adler32 it computed from the seed. Real movers never have it.
   */
  readonly syntheticSeed?: (a: Assign) => number | null;
  /** Re-read 1 in N written files before reporting success (`libraries.<name>.faults.reread_one_in`; 0 or absent: never). */
  readonly rereadOneIn?: number;
  /** In [0, 1): which files are re-read (tests inject it). */
  readonly random?: () => number;
}

/**
 * One mover per drive (Enstore's mover): a session with the library manager,
 * a data port for encp, and the transfer itself — mount, check or write VOL1,
 * position, stream through the cpio wrapper with adler32, register.
 * States: idle → (mount_wait → seek → active) → have_bound → dismount → idle.
 */
export class Mover {
  private readonly data: DataServer;
  private socket: net.Socket | null = null;
  private seq = 0;
  /** The request of the Assign being worked on (claimed in the Hello after a reconnect). */
  private current: string | null = null;
  /**
   * WorkDones the library manager has not acknowledged yet, by request id:
   * re-sent after the next Hello, so a result is never lost with a session
   * (a library manager that crashed or lost its leadership meanwhile).
   */
  private readonly unacked = new Map<string, WorkDone>();
  /** seq of each WorkDone sent in this session → its request id (an Ack names the seq). */
  private readonly doneSeqs = new Map<number, string>();
  private state: MoverStateName = 'idle';
  private mounted: string | null = null;
  private work: Promise<void> = Promise.resolve();
  private stopped = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private dataAddress = '';
  private readonly log: Logger;

  constructor(private readonly deps: MoverDeps) {
    this.log = deps.log.child({ component: 'mover', mover: deps.name });
    this.data = new DataServer(this.log);
  }

  async start(): Promise<void> {
    this.dataAddress = await this.data.listen(this.deps.dataHost ?? '127.0.0.1');
    const st = this.deps.drive.status();
    if (st.label) {
      // A cartridge left in the drive by an earlier run (a restart, a crash):
      // thread it again so the next transfer on it finds the drive ready.
      try {
        if (st.state !== 'ready') await this.deps.drive.load();
        this.mounted = st.label;
      } catch (err) {
        this.log.warn({ event: 'mover.reload_failed', volume: st.label, err });
      }
    }
    this.state = this.mounted ? 'have_bound' : 'idle';
    void this.connectLoop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.socket?.destroy();
    await this.work.catch(() => undefined);
    await this.data.close();
  }

  // --- session with the library manager ------------------------------------------------

  private async connectLoop(): Promise<void> {
    let delay = 200;
    while (!this.stopped) {
      try {
        const address = await this.deps.lmAddress();
        await this.session(address);
        delay = 200;
      } catch (err) {
        if (!this.stopped) this.log.warn({ event: 'mover.lm_unreachable', err: (err as Error).message, retryMs: delay });
      }
      if (this.stopped) return;
      await new Promise((r) => setTimeout(r, delay));
      // Capped at 1 s: after a fail-over the new leader is found within a second of publishing its address.
      delay = Math.min(delay * 2, 1000);
    }
  }

  /** One connected session; resolves when it ends. */
  private session(address: string): Promise<void> {
    const { host, port } = splitHostPort(address);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const decoder = new FrameDecoder();
      socket.setNoDelay(true);
      socket.once('connect', () => {
        this.socket = socket;
        this.doneSeqs.clear();
        this.send('hello', {
          mover: this.deps.name, drive: this.deps.drive.name, library: this.deps.library, host: os.hostname(), dataAddress: this.dataAddress, protocolVersion: PROTOCOL_VERSION,
          ...(this.current !== null ? { requestId: this.current } : {}),
          doneRequestIds: [...this.unacked.keys()],
        });
        for (const done of this.unacked.values()) this.sendDone(done);
        this.reportState(this.current);
        this.heartbeat = setInterval(() => this.send('heartbeat', { sentAtMs: this.deps.clock.now() }), this.deps.heartbeatMs ?? 5000);
        this.log.info({ event: 'mover.connected', lm: address });
      });
      socket.on('data', (chunk: Buffer) => {
        try {
          for (const frame of decoder.feed(chunk)) this.onMessage(decodeEnvelope(frame));
        } catch (err) {
          this.log.error({ event: 'mover.protocol_error', err });
          socket.destroy();
        }
      });
      socket.once('error', (err) => (this.socket === socket ? undefined : reject(err)));
      socket.once('close', () => {
        if (this.heartbeat) clearInterval(this.heartbeat);
        this.heartbeat = null;
        if (this.socket === socket) {
          this.socket = null;
          this.log.warn({ event: 'mover.lm_disconnected' });
          resolve();
        } else {
          reject(new Error(`cannot connect to the library manager at ${address}`));
        }
      });
    });
  }

  /** Returns the frame's seq, or 0 when there is no session to send on. */
  private send<K extends EnvelopeType>(type: K, body: EnvelopeBodies[K]): number {
    if (!this.socket || this.socket.destroyed) return 0;
    this.socket.write(envelopeFrame(++this.seq, type, body));
    return this.seq;
  }

  /** Send a WorkDone and keep it until the library manager acknowledges it. */
  private sendDone(done: WorkDone): void {
    this.unacked.set(done.requestId, done);
    const seq = this.send('done', done);
    if (seq > 0) this.doneSeqs.set(seq, done.requestId);
  }

  private setState(state: MoverStateName): void {
    this.state = state;
    this.reportState();
  }

  private reportState(requestId: string | null = null): void {
    this.send('state', { state: this.state, volume: this.mounted, requestId });
  }

  private onMessage(env: Envelope): void {
    switch (env.type) {
      case 'assign':
        this.current = env.assign.requestId;
        this.work = this.work.then(() => this.transfer(env.assign));
        return;
      case 'ack': {
        const id = this.doneSeqs.get(env.ack.ackSeq);
        if (id !== undefined) {
          this.doneSeqs.delete(env.ack.ackSeq);
          this.unacked.delete(id);
        }
        return;
      }
      case 'dismount':
        this.work = this.work.then(() => this.dismount());
        return;
      case 'error':
        this.log.error({ event: 'mover.lm_error', code: env.error.code, message: env.error.message });
        return;
      default:
        return;
    }
  }

  // --- transfers -------------------------------------------------------------------------

  private async transfer(a: Assign): Promise<void> {
    const log = this.log.child({ requestId: a.requestId, volume: a.volume, kind: a.kind });
    this.state = 'busy';
    this.reportState(a.requestId);
    const started = this.deps.clock.now();
    let done: WorkDone;
    // Reads: encp connects to our data port. Writes with a callback address:
    // we connect to encp (the receiving side opens the data connection).
    const expectData = a.clientAddress !== null && a.kind === 'write' ? null : this.data.expect(a.token, this.deps.dataTimeoutMs ?? 120_000);
    expectData?.catch(() => undefined);
    let conn: DataConnection | null = null;
    try {
      const volume = a.volume;
      if (!volume) throw new TapestryError('MALFORMED', 'assignment without a volume');
      const vol = await this.ensureMounted(volume, a.kind === 'write', log);
      conn = expectData ? await expectData : await this.connectToClient(a).catch((err: unknown) => {
        // encp listens before it submits: a refused callback means it is gone.
        throw isTapestryError(err, 'UNAVAILABLE') ? clientGone(`encp's callback ${a.clientAddress} refused the data connection (${err.message})`, err) : err;
      });
      log.info({ event: 'mover.data_open', client: conn.socket.remoteAddress });
      done = a.kind === 'write' ? await this.write(a, volume, vol, conn, log) : await this.read(a, volume, vol.blockSize, conn, log);
      log.info({ event: 'mover.transfer_done', bfid: done.bfid, bytes: done.bytes, fileNo: done.fileNo, ms: this.deps.clock.now() - started });
    } catch (err) {
      this.data.forget(a.token);
      let e = isTapestryError(err) ? err : new TapestryError('DRIVE_ERROR', (err as Error).message, { cause: err });
      // The data channel broke from encp's side (killed, its disk full, its
      // own CRC check failed): encp has given up, so a retry would only wait
      // for nobody — and it is not the drive's fault.
      if (conn && e.code === 'UNAVAILABLE' && conn.socket.destroyed) e = clientGone(`encp closed the data connection: ${e.message}`, e);
      log.warn({ event: 'mover.transfer_failed', code: e.code, message: e.message });
      if (conn) answerError(conn.socket, e, a);
      done = { requestId: a.requestId, ok: false, errorCode: e.code, message: e.message, bytes: 0, crc: 0, fileNo: 0, volume: a.volume, bfid: a.bfid, tapeBytes: 0, sanityCrc: 0, sanitySize: 0, drive: this.deps.drive.name };
    }
    this.state = this.mounted ? 'have_bound' : 'idle';
    if (this.current === a.requestId) this.current = null;
    this.sendDone(done);
    this.reportState();
  }

  /** Open the data connection to encp's callback listener and present the token there. */
  private async connectToClient(a: Assign): Promise<DataConnection> {
    const { socket, chunks } = await connectReceiving(a.clientAddress!, { connectTimeoutMs: this.deps.dataTimeoutMs ?? 30_000 });
    const header = { token: a.token, direction: a.kind, size: a.size, bfid: a.bfid } as const;
    try {
      await writeAll(socket, dataFrame('header', header));
    } catch (err) {
      socket.destroy();
      throw err;
    }
    return { socket, reader: new ChunkReader(chunks), header };
  }

  /** Mount `volume` if another (or none) is in the drive; check its label, or write VOL1 on a blank tape. */
  private async ensureMounted(volume: string, forWrite: boolean, log: Logger): Promise<{ eodFileNo: number | null; blockSize: number }> {
    if (this.mounted !== volume) {
      // A failed dismount fails this request (re-queued by its code); the old tape stays bound.
      if (this.mounted) await this.unmount(this.mounted);
      this.setState('busy');
      const t0 = this.deps.clock.now();
      await this.deps.changer.mount(volume, this.deps.drive.name);
      this.mounted = volume;
      await this.deps.catalogue.recordMount(volume, this.deps.drive.name);
      log.info({ event: 'mover.mounted', ms: this.deps.clock.now() - t0 });
      const vol = await this.deps.catalogue.volume(volume);
      if (vol.eodFileNo === null) {
        if (!forWrite) throw new TapestryError('BLANK_CHECK', `volume ${volume} is blank: nothing to read`);
        await writeLabel(this.deps.drive, volume);
        await this.deps.catalogue.labelled(volume, 80);
        log.info({ event: 'mover.labelled' });
      } else {
        await checkLabel(this.deps.drive, volume);
      }
    } else if (this.deps.drive.status().state !== 'ready') {
      // Still ours but unthreaded: a dismount unloaded it and then the robot
      // failed to take it (jam, retries spent). Thread it again and go on.
      await this.deps.drive.load();
      log.info({ event: 'mover.rethreaded' });
    }
    return this.deps.catalogue.volume(volume);
  }

  private async write(a: Assign, volume: string, vol: { eodFileNo: number | null; blockSize: number }, conn: DataConnection, log: Logger): Promise<WorkDone> {
    const { header } = conn;
    if (header.direction !== 'write' || header.size !== a.size || (header.bfid !== null && header.bfid !== a.bfid)) {
      throw new TapestryError('MALFORMED', `data header (${header.direction}, ${header.size} bytes, ${header.bfid}) does not match the request (write, ${a.size} bytes, ${a.bfid})`);
    }
    const fileNo = vol.eodFileNo ?? 1;
    await this.deps.drive.locateFile(fileNo);
    const seed = this.deps.syntheticSeed?.(a) ?? null;
    const result = seed !== null
      ? await writeSyntheticFile(this.deps.drive, { name: a.path, seed, size: a.size })
      : await writeFile(this.deps.drive, {
        meta: { name: a.path, mtime: Math.floor(this.deps.clock.now() / 1000) },
        source: rawBytes(conn.reader, a.size),
        blockSize: vol.blockSize,
        expectedSize: a.size,
      });
    log.info({ event: 'mover.data_written', fileNo, bytes: result.dataBytes, blocks: result.blocks });
    const trailer = await readDataFrame(conn.reader, 'trailer');
    if (trailer.size !== a.size || trailer.crcAdler32 !== result.crc) {
      throw new TapestryError('CRC_MISMATCH', `encp sent adler32 ${trailer.crcAdler32} over ${trailer.size} bytes, the mover computed ${result.crc} over ${result.dataBytes}`, { context: { volume, fileNo } });
    }
    // Before anything is registered: a file that does not read back is never activated.
    if (shouldReread(this.deps.rereadOneIn ?? 0, this.deps.random ?? Math.random)) {
      await rereadWritten(this.deps.drive, fileNo, { size: a.size, crc: result.crc, blockSize: vol.blockSize, synthetic: seed !== null });
      log.info({ event: 'mover.reread_ok', fileNo });
    }
    await this.deps.catalogue.registerWrite({ bfid: a.bfid!, volume, fileNo, drive: this.deps.drive.name, tapeBytes: result.tapeBytes, crc: result.crc });
    await writeAll(conn.socket, dataFrame('result', { ok: true, code: null, message: '', bfid: a.bfid, crc: result.crc, size: a.size, volume, fileNo }));
    conn.socket.end();
    log.debug({ event: 'mover.written', fileNo, tapeBytes: result.tapeBytes });
    return { requestId: a.requestId, ok: true, errorCode: null, message: '', bytes: a.size, crc: result.crc, fileNo, volume, bfid: a.bfid, tapeBytes: result.tapeBytes, sanityCrc: result.sanityCrc, sanitySize: result.sanitySize, drive: this.deps.drive.name };
  }

  private async read(a: Assign, volume: string, blockSize: number, conn: DataConnection, log: Logger): Promise<WorkDone> {
    if (conn.header.direction !== 'read' || (conn.header.bfid !== null && conn.header.bfid !== a.bfid)) {
      throw new TapestryError('MALFORMED', `data header (${conn.header.direction}, ${conn.header.bfid}) does not match the request (read, ${a.bfid})`);
    }
    const reader = readFile(this.deps.drive, a.fileNo, { expectedSize: a.size, bufferBytes: blockSize, ...(a.crc !== null ? { expectedCrc: a.crc } : {}) });
    // The bytes go out as they come off tape; a CRC mismatch is only known at
    // the end, and then the result frame says so and encp discards its copy.
    // Each send is awaited to its completion: the chunks are views of reused
    // record buffers.
    for await (const chunk of reader) await sendChunk(conn.socket, chunk);
    const result = await reader.result;
    await this.deps.catalogue.recordRead(volume);
    await writeAll(conn.socket, dataFrame('result', { ok: true, code: null, message: '', bfid: a.bfid, crc: result.crc, size: result.size, volume, fileNo: a.fileNo }));
    conn.socket.end();
    log.debug({ event: 'mover.read', fileNo: a.fileNo, bytes: result.size });
    return { requestId: a.requestId, ok: true, errorCode: null, message: '', bytes: result.size, crc: result.crc, fileNo: a.fileNo, volume, bfid: a.bfid, tapeBytes: result.tapeBytes, sanityCrc: result.sanityCrc, sanitySize: result.sanitySize, drive: this.deps.drive.name };
  }

  /** The library manager's Dismount: a failure becomes the mover's state, never an exception. */
  private async dismount(): Promise<void> {
    const volume = this.mounted;
    if (!volume) {
      this.setState('idle');
      return;
    }
    try {
      await this.unmount(volume);
      this.setState('idle');
    } catch (err) {
      this.dismountFailed(volume, err);
    }
  }

  /** Take `volume` out of the drive; throws the media changer's error (the tape is then still in the drive). */
  private async unmount(volume: string): Promise<void> {
    this.setState('busy');
    const { toSlot } = await this.deps.changer.dismount(volume, this.deps.drive.name);
    await this.deps.catalogue.recordDismount(volume, toSlot ?? null).catch(() => undefined);
    this.mounted = null;
    this.log.info({ event: 'mover.dismounted', volume });
  }

  /**
   * The tape is still in the drive. When the robot may get over it (a
   * retryable code, or an operator's fault: the library manager holds the
   * robot's mounts and dismounts until the reset), the mover stays bound so
   * the dismount is asked for again later; anything else (drive down, the
   * robot disagreeing about the cartridge) needs a human: state error.
   */
  private dismountFailed(volume: string, err: unknown): void {
    const code: ErrorCode = isTapestryError(err) ? err.code : 'MOUNT_FAILED';
    const again = code === 'ROBOT_OPERATOR' || errorSpec(code).retryable;
    this.log.error({ event: 'mover.dismount_failed', volume, code, again, err });
    this.setState(again ? 'have_bound' : 'error');
  }

}

function clientGone(message: string, cause: unknown): TapestryError {
  return new TapestryError('CLIENT_GONE', message, { cause });
}
