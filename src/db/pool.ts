import pg from 'pg';
import type { Logger } from '../logging/index.ts';

/** Anything that can run a query: the pool, or a client checked out for a transaction. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

// Return int8 (bigint) as a JS number: tape sizes and byte counters stay far
// below 2^53 (9 PB), and every consumer wants arithmetic, not strings.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

/** The only place a Pool is constructed (node-postgres: all database access through one module). */
export function createPool(url: string, log?: Logger, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection emits 'error' on the pool; unhandled it would crash the process.
  pool.on('error', (err) => log?.error({ event: 'db.pool_error', err }));
  return pool;
}
