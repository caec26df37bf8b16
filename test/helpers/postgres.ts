import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createPool, migrate, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/index.ts';

/**
 * A real PostgreSQL for one test file: its own embedded cluster in a temporary
 * directory (durability off), removed at the end. Each `database()` call gives
 * a fresh, migrated database so tests in one file cannot see each other.
 */
export interface TestPostgres {
  readonly cluster: EmbeddedPostgres;
  /** A new empty database; migrated unless `migrated: false`. Returns its URL. */
  database(options?: { migrated?: boolean }): Promise<string>;
  /** A pool on a new migrated database, closed by stop(). */
  pool(): Promise<pg.Pool>;
  stop(): Promise<void>;
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tapestry-test-pg-'));
  await fs.chmod(dir, 0o755);
  const dataDir = path.join(dir, 'data');
  const cluster = await startEmbeddedPostgres({ dataDir, fast: true });
  const admin = new pg.Pool({ connectionString: cluster.url.replace(/\/[^/]*$/, '/postgres'), max: 2 });
  // An idle admin connection cut by the server (CI once saw "terminating
  // connection due to administrator command" here) must not become an
  // uncaught exception that fails the whole file: the next query reconnects.
  admin.on('error', () => undefined);
  const pools: pg.Pool[] = [];
  let n = 0;
  const database = async (options: { migrated?: boolean } = {}): Promise<string> => {
    const name = `t${process.pid}_${++n}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const url = cluster.url.replace(/\/[^/]*$/, `/${name}`);
    if (options.migrated !== false) {
      const p = createPool(url);
      try {
        await migrate(p);
      } finally {
        await p.end();
      }
    }
    return url;
  };
  return {
    cluster,
    database,
    async pool() {
      const p = createPool(await database());
      pools.push(p);
      return p;
    },
    async stop() {
      await Promise.all(pools.map((p) => p.end()));
      await admin.end();
      await cluster.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
