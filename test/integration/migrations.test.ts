import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertSchemaCompatible, codeSchemaVersion, createPool, loadMigrations, migrate } from '../../src/db/index.ts';
import { isTapestryError } from '../../src/errors/index.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';

let pgt: TestPostgres;
before(async () => { pgt = await startTestPostgres(); });
after(async () => { await pgt.stop(); });

test('migrations apply on an empty database, and a second run applies nothing', async () => {
  const pool = createPool(await pgt.database({ migrated: false }));
  try {
    const first = await migrate(pool);
    assert.deepEqual(first, loadMigrations().map((m) => m.version));
    const second = await migrate(pool);
    assert.deepEqual(second, []);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    assert.equal(rows[0]!.n, codeSchemaVersion());
    // The schema is really there: the root directory exists.
    const root = await pool.query('SELECT id, name FROM namespace_dirs WHERE parent_id IS NULL');
    assert.deepEqual(root.rows, [{ id: 1, name: '' }]);
  } finally {
    await pool.end();
  }
});

test('concurrent migrators apply each migration exactly once (advisory lock)', async () => {
  const url = await pgt.database({ migrated: false });
  const pools = [createPool(url), createPool(url), createPool(url)];
  try {
    const results = await Promise.all(pools.map((p) => migrate(p)));
    const applied = results.flat().sort();
    assert.deepEqual(applied, loadMigrations().map((m) => m.version));
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
});

test('a schema newer than the code is refused by migrate and by assertSchemaCompatible', async () => {
  const pool = createPool(await pgt.database());
  try {
    const next = codeSchemaVersion() + 1;
    await pool.query(`INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, 'from_the_future', 'x')`, [next]);
    await assert.rejects(migrate(pool), (err) => isTapestryError(err, 'SCHEMA_TOO_NEW') && /version \d+/.test(err.message));
    await assert.rejects(assertSchemaCompatible(pool), (err) => isTapestryError(err, 'SCHEMA_TOO_NEW'));
  } finally {
    await pool.end();
  }
});

test('an edited migration is refused (append-only)', async () => {
  const pool = createPool(await pgt.database());
  try {
    const edited = loadMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'edited' } : m));
    await assert.rejects(migrate(pool, { migrations: edited }), (err) => isTapestryError(err, 'SCHEMA_MISMATCH'));
  } finally {
    await pool.end();
  }
});

test('volume counters follow file rows (trigger)', async () => {
  const pool = createPool(await pgt.database());
  try {
    await pool.query(`INSERT INTO libraries (name, robot, media_type) VALUES ('lib', 'r', 'LTO9')`);
    const { rows: [vol] } = await pool.query<{ id: number }>(
      `INSERT INTO volumes (label, library, media_type, capacity_bytes, remaining_bytes, block_size) VALUES ('TS0001L9', 'lib', 'LTO9', 1000, 1000, 512) RETURNING id`);
    const insert = (bfid: string, size: number, fileNo: number) => pool.query(
      `INSERT INTO files (bfid, dir_id, name, ns_path, state, size, crc_adler32, volume_id, file_no, storage_group, file_family, wrapper, library)
       VALUES ($1, 1, $1, '/' || $1, 'writing', $2, 1, $3, $4, 'sg', 'ff', 'cpio_odc', 'lib')`, [bfid, size, vol!.id, fileNo]);
    await insert('A1', 10, 1);
    await insert('A2', 20, 2);
    await pool.query(`UPDATE files SET state = 'active' WHERE bfid IN ('A1', 'A2')`);
    await pool.query(`UPDATE files SET state = 'deleted' WHERE bfid = 'A2'`);
    const { rows: [v] } = await pool.query(`SELECT active_files, active_bytes, deleted_files, deleted_bytes, unknown_files, unknown_bytes FROM volumes WHERE id = $1`, [vol!.id]);
    assert.deepEqual(v, { active_files: 1, active_bytes: 10, deleted_files: 1, deleted_bytes: 20, unknown_files: 0, unknown_bytes: 0 });
    // The same position on one tape can never be claimed twice.
    await assert.rejects(insert('A3', 5, 1), /files_position/);
  } finally {
    await pool.end();
  }
});
