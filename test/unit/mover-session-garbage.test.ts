import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { FramedSession } from '../../library-manager/mover-session.ts';
import { silentLogger } from '../../src/logging/index.ts';
import { FrameDecoder, decodeEnvelope, envelopeFrame, PROTOCOL_VERSION, type Envelope } from '../../src/protocol/index.ts';
import { SystemClock } from '../../src/time/clock.ts';

/**
 * Found by test/system/fuzz-ports.test.ts: good frames followed by a bad
 * length prefix in the same TCP chunk. FrameDecoder.feed() returns the good
 * frames and keeps the error for its next call, so a peer that then sends
 * nothing got neither an ErrorReply nor a closed connection.
 */
test('a bad length prefix right after good frames in one chunk is answered with an ErrorReply and a close', { timeout: 30_000 }, async () => {
  const got: Envelope[] = [];
  let closed = '';
  const server = net.createServer((socket) => {
    new FramedSession(socket, silentLogger(), (env) => got.push(env), (reason) => (closed = reason), new SystemClock());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as net.AddressInfo;
    const hello = envelopeFrame(1, 'hello', { mover: 'm', drive: 'd', library: 'l', host: 'h', dataAddress: 'a:1', protocolVersion: PROTOCOL_VERSION });
    const heartbeat = envelopeFrame(2, 'heartbeat', { sentAtMs: 1 });
    const oversize = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const reply = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      // No FIN from us: only the session's own answer may end the connection.
      const s = net.connect({ host: '127.0.0.1', port }, () => s.write(Buffer.concat([hello, heartbeat, oversize])));
      s.on('data', (c: Buffer) => chunks.push(c));
      // A hang guard, not a timing assertion: without the fix nothing ever comes back.
      setTimeout(() => s.destroy(), 20_000).unref();
      s.on('close', () => resolve(Buffer.concat(chunks)));
    });
    assert.deepEqual(got.map((e) => e.type), ['hello', 'heartbeat']);
    const frames = new FrameDecoder().feed(reply).map((f) => decodeEnvelope(f));
    assert.equal(frames.length, 1);
    const error = frames[0]!;
    assert.ok(error.type === 'error');
    assert.equal(error.error.code, 'MALFORMED');
    assert.match(error.error.message, /frame of 4294967295 bytes exceeds the limit/);
    assert.match(closed, /^MALFORMED: frame of 4294967295 bytes/);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
