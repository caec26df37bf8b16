import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../logging/index.ts';

/** Anything that can run a query: the pool, or a client checked out for a transaction. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

// Return int8 (bigint) as a JS number: tape sizes and byte counters stay far
// below 2^53 (9 PB), and every consumer wants arithmetic, not strings.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

/**
 * Every parameterised statement becomes a named (prepared) statement, named
 * by a hash of its text: each connection parses and plans it once instead of
 * on every call. The hot paths (a scheduling pass, a file's registration)
 * repeat a few dozen statements thousands of times a day, and planning was
 * most of PostgreSQL's time for them (the soak's pass snapshot: 3.0 ms per
 * call planned each time, 1.2 ms prepared). Statements without parameters
 * (BEGIN, LISTEN, DDL) are left alone. Texts are fixed strings in this code
 * base, so the set of names per connection stays small. Migrations run
 * before a process uses its pool: a schema change under open connections
 * would make PostgreSQL refuse a prepared `SELECT *` whose columns changed.
 */
const statementNames = new Map<string, string>();

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `t${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return name;
}

type QueryArgs = [unknown, unknown?, unknown?];

class PreparingClient extends pg.Client {}

const plainQuery = pg.Client.prototype.query as (...args: QueryArgs) => unknown;
(PreparingClient.prototype as unknown as { query: (...args: QueryArgs) => unknown }).query = function query(this: pg.Client, ...args: QueryArgs): unknown {
  const [config, values] = args;
  if (typeof config === 'string' && Array.isArray(values) && values.length > 0) {
    args[0] = { text: config, values, name: statementName(config) };
    args.splice(1, 1);
  } else if (config !== null && typeof config === 'object' && !('submit' in config)) {
    const c = config as { text?: unknown; name?: unknown; values?: unknown };
    const vals = c.values ?? values;
    if (typeof c.text === 'string' && c.name === undefined && Array.isArray(vals) && vals.length > 0) args[0] = { ...c, name: statementName(c.text) };
  }
  return plainQuery.apply(this, args);
};

/** The only place a Pool is constructed (node-postgres: all database access through one module). */
export function createPool(url: string, log?: Logger, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000, Client: PreparingClient });
  // An idle client losing its connection emits 'error' on the pool; unhandled it would crash the process.
  pool.on('error', (err) => log?.error({ event: 'db.pool_error', err }));
  return pool;
}
