import type net from 'node:net';
import { TapestryError } from '../src/errors/index.ts';
import type { Logger } from '../src/logging/index.ts';
import type { Clock } from '../src/time/clock.ts';
import { decodeEnvelope, envelopeFrame, FrameDecoder, type Envelope, type EnvelopeBodies, type EnvelopeType } from '../src/protocol/index.ts';

/**
 * One mover's TCP session with the library manager (DESIGN §5): length-
 * delimited protobuf Envelopes both ways. Garbage or an oversize frame gets an
 * ErrorReply and a closed connection, never a crash; the first frame must be a
 * Hello.
 */
export class FramedSession {
  private readonly decoder = new FrameDecoder();
  private seq = 0;
  private closed = false;
  lastSeen: number;

  constructor(
    readonly socket: net.Socket,
    private readonly log: Logger,
    private readonly onMessage: (env: Envelope) => void,
    private readonly onClose: (reason: string) => void,
    private readonly clock: Clock,
  ) {
    this.lastSeen = clock.now();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('connection closed'));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    let frames: Buffer[];
    try {
      frames = this.decoder.feed(chunk);
    } catch (err) {
      this.fail(err);
      return;
    }
    for (const frame of frames) {
      let env: Envelope;
      try {
        env = decodeEnvelope(frame);
      } catch (err) {
        this.fail(err);
        return;
      }
      this.lastSeen = this.clock.now();
      try {
        this.onMessage(env);
      } catch (err) {
        this.fail(err);
        return;
      }
      if (this.closed) return;
    }
    // feed() hands out the good frames that came before a bad length prefix in
    // the same chunk and keeps the error for its next call; the peer may send
    // nothing more, so ask now rather than leave the session hanging.
    try {
      this.decoder.next();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Tell the peer why, then close: a protocol error ends the session. */
  fail(err: unknown): void {
    const e = err instanceof TapestryError ? err : new TapestryError('MALFORMED', (err as Error).message ?? String(err));
    this.log.warn({ event: 'session.protocol_error', code: e.code, message: e.message, remote: this.socket.remoteAddress });
    this.send('error', { code: e.code, message: e.message });
    this.socket.end();
    this.close(`${e.code}: ${e.message}`);
  }

  send<K extends EnvelopeType>(type: K, body: EnvelopeBodies[K]): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(envelopeFrame(++this.seq, type, body));
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.onClose(reason);
  }
}
