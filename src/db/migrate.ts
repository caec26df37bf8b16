import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { TapestryError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';
import type { Queryable } from './pool.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

// Any constant works; it only has to be the same in every Tapestry process.
const MIGRATION_LOCK_KEY = 0x7a9e_5701;

/**
 * The migrations shipped with this code: `NNNN_name.sql`, applied in order.
 * Append-only: a shipped file is never edited (its checksum is recorded and
 * checked) and never renumbered.
 */
export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) continue;
    const sql = readFileSync(path.join(dir, file), 'utf8');
    out.push({ version: Number(m[1]), name: m[2]!, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  out.forEach((mig, i) => {
    if (mig.version !== i + 1) throw new Error(`migration numbering has a gap or duplicate at ${mig.version}_${mig.name}`);
  });
  return out;
}

export function codeSchemaVersion(migrations = loadMigrations()): number {
  return migrations.at(-1)?.version ?? 0;
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

async function appliedMigrations(db: Queryable): Promise<Map<number, { name: string; checksum: string }>> {
  const { rows } = await db.query<{ version: number; name: string; checksum: string }>('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
  return new Map(rows.map((r) => [r.version, { name: r.name, checksum: r.checksum }]));
}

function refuseNewer(dbVersion: number, codeVersion: number): void {
  if (dbVersion > codeVersion) {
    throw new TapestryError(
      'SCHEMA_TOO_NEW',
      `the database schema is at version ${dbVersion} but this Tapestry only knows ${codeVersion}; upgrade Tapestry before running it against this database`,
      { context: { dbVersion, codeVersion } },
    );
  }
}

/**
 * Bring the schema up to date: one transaction, under an advisory lock so two
 * processes starting together apply each migration once. Refuses a database
 * whose schema is newer than the code, or whose applied migrations were edited.
 * Returns the versions applied now.
 */
export async function migrate(pool: pg.Pool, options: { log?: Logger; migrations?: Migration[] } = {}): Promise<number[]> {
  const migrations = options.migrations ?? loadMigrations();
  // A dedicated session: the transaction-scoped advisory lock and every statement must share it.
  const client = await pool.connect();
  // Unheard, a connection lost while checked out is emitted as 'error' and crashes the process (see tx.ts).
  let broken: Error | undefined;
  const onError = (err: Error): void => {
    broken = err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(CREATE_TABLE);
    const applied = await appliedMigrations(client);
    refuseNewer(Math.max(0, ...applied.keys()), codeSchemaVersion(migrations));
    const done: number[] = [];
    for (const mig of migrations) {
      const prior = applied.get(mig.version);
      if (prior) {
        if (prior.checksum !== mig.checksum) {
          throw new TapestryError('SCHEMA_MISMATCH', `migration ${mig.version}_${mig.name} differs from the one applied to this database; migrations are append-only`, { context: { version: mig.version } });
        }
        continue;
      }
      await client.query(mig.sql);
      await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [mig.version, mig.name, mig.checksum]);
      done.push(mig.version);
      options.log?.info({ event: 'db.migrated', version: mig.version, name: mig.name });
    }
    await client.query('COMMIT');
    return done;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

/** For processes that do not migrate (a lone mover): refuse a schema newer than the code, or one not yet migrated. */
export async function assertSchemaCompatible(db: Queryable, migrations = loadMigrations()): Promise<number> {
  const { rows } = await db.query<{ v: number | null }>(`SELECT (SELECT max(version) FROM schema_migrations) AS v`).catch(() => ({ rows: [{ v: null }] }));
  const dbVersion = rows[0]?.v ?? 0;
  const codeVersion = codeSchemaVersion(migrations);
  refuseNewer(dbVersion, codeVersion);
  if (dbVersion < codeVersion) {
    throw new TapestryError('UNAVAILABLE', `the database schema is at version ${dbVersion}, this code needs ${codeVersion}; start the API (which migrates) first`, { context: { dbVersion, codeVersion } });
  }
  return dbVersion;
}
