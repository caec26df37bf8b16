/**
 * The mover's data port over real loopback sockets: the assignment reaches
 * encp and the mover by different paths, so either may come first.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import { ChunkReader } from '../../movers/chunk-reader.ts';
import { dataFrame, readDataFrame } from '../../movers/data-channel.ts';
import { DataServer } from '../../movers/data-server.ts';
import { silentLogger } from '../../src/logging/index.ts';

const servers: DataServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function server(options: ConstructorParameters<typeof DataServer>[1] = {}): Promise<{ ds: DataServer; port: number }> {
  const ds = new DataServer(silentLogger(), options);
  servers.push(ds);
  const address = await ds.listen('127.0.0.1');
  return { ds, port: Number(address.split(':')[1]) };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

const header = (token: string): Buffer => dataFrame('header', { token, direction: 'write', size: 3, bfid: 'B1' });

test('a connection with the expected token is handed to expect()', async () => {
  const { ds, port } = await server();
  const claimed = ds.expect('t-1', 5000);
  const s = await connect(port);
  s.write(header('t-1'));
  s.write(Buffer.from('abc'));
  const conn = await claimed;
  assert.equal(conn.header.token, 't-1');
  assert.equal((await conn.reader.exactly(3)).toString(), 'abc', 'the raw bytes after the header reach the mover');
  s.destroy();
  conn.socket.destroy();
});

test('encp arriving before the mover expects its token is held, then claimed', async () => {
  const { ds, port } = await server();
  const s = await connect(port);
  s.write(header('t-early'));
  s.write(Buffer.from('xyz'));
  await new Promise((r) => setTimeout(r, 100)); // the header is read and parked
  const conn = await ds.expect('t-early', 5000);
  assert.equal(conn.header.size, 3);
  assert.equal((await conn.reader.exactly(3)).toString(), 'xyz');
  s.destroy();
  conn.socket.destroy();
});

test('a token nobody claims is answered UNAUTHORIZED after the hold time', async () => {
  const { ds, port } = await server({ earlyMs: 150 });
  const s = await connect(port);
  s.write(header('t-nobody'));
  const result = await readDataFrame(new ChunkReader(s), 'result');
  assert.equal(result.ok, false);
  assert.equal(result.code, 'UNAUTHORIZED');
  s.destroy();
  // It is gone: a late expect() waits for a new connection instead of taking a dead one.
  await assert.rejects(ds.expect('t-nobody', 100), { code: 'TIMEOUT' });
});

test('garbage instead of a header is answered MALFORMED and closed', async () => {
  const { port } = await server();
  const s = await connect(port);
  s.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  const result = await readDataFrame(new ChunkReader(s), 'result');
  assert.equal(result.ok, false);
  assert.equal(result.code, 'MALFORMED');
  await new Promise((resolve) => s.once('close', resolve));
});

test('held connections are bounded: beyond maxEarly a token is refused at once', async () => {
  const { port } = await server({ maxEarly: 1, earlyMs: 5000 });
  const first = await connect(port);
  first.write(header('t-a'));
  await new Promise((r) => setTimeout(r, 50));
  const second = await connect(port);
  second.write(header('t-b'));
  const result = await readDataFrame(new ChunkReader(second), 'result');
  assert.equal(result.code, 'UNAUTHORIZED');
  first.destroy();
  second.destroy();
});
