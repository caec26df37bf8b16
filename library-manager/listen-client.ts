import pg from 'pg';

/**
 * A connection of its own, beside the pool, with the pool's settings: a
 * LISTEN or a session-level advisory lock belongs to one session, and a
 * pooled client is handed to someone else between queries. TCP keep-alive so
 * a vanished server is noticed even when we send nothing.
 */
export async function dedicatedClient(pool: pg.Pool): Promise<pg.Client> {
  const { connectionString } = (pool as unknown as { options: { connectionString?: string } }).options;
  const client = new pg.Client({ connectionString, keepAlive: true, connectionTimeoutMillis: 10_000 });
  // An error on an idle client is reported through 'error'; unhandled it would crash the process.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
