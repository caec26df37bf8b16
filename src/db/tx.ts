import type pg from 'pg';

/**
 * Run `fn` in one transaction on one checked-out client (node-postgres: never
 * `pool.query('BEGIN')`, the next query may go to another connection).
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out client has no 'error' listener of the pool's: if the server
  // goes away mid-transaction (a database outage), the connection's end is
  // emitted as 'error' and, unheard, would crash the process. Keep it, and
  // hand the broken client back as broken so the pool drops it.
  let broken: Error | undefined;
  const onError = (err: Error): void => {
    broken = err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}
