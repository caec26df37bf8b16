import { EventEmitter } from 'node:events';
import { createPostgresBackend, runMigrations, UnrecoverableError, withBackend, type Job, type JobProgress, type PostgresConnectionOptions, type PostgresQueueBackend, type Queue, type Worker } from 'bullmq';
import type pg from 'pg';
import { createPool } from '../db/pool.ts';
import { isTapestryError, TapestryError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';

/**
 * A background job's code. `data` is what was queued (JSON); the result is
 * kept with the completed job. A non-retryable TapestryError fails the job for
 * good (BullMQ's UnrecoverableError, as STYLE asks); anything else may be
 * retried when the job was queued with attempts > 1.
 */
export type JobHandler<D = unknown, R = unknown> = (data: D, job: { readonly id: string | undefined; readonly name: string; readonly queue: string }) => Promise<R>;

export interface JobRunnerOptions {
  /** The Tapestry database: BullMQ keeps its tables there, in schema `bullmq`. */
  readonly url: string;
  readonly log: Logger;
  /** Connections of the job pool; each worker holds one for LISTEN. */
  readonly poolSize?: number;
}

export interface ScheduleInfo {
  readonly id: string;
  readonly name: string;
  readonly everyMs: number | null;
  /** When the next run is due (epoch ms), if known. */
  readonly next: number | null;
}

/** `completed` / `failed` events: tests and callers wait for a run instead of for time. */
export interface JobEvent {
  readonly queue: string;
  readonly name: string;
  readonly id: string | undefined;
  readonly result?: unknown;
  readonly error?: Error;
}

/**
 * BullMQ's PostgreSQL backend wants the schema it was migrated into first on
 * the search path of every connection of a pool it did not create.
 */
const SCHEMA = 'bullmq';

function withSearchPath(url: string): string {
  const u = new URL(url);
  const existing = u.searchParams.get('options');
  u.searchParams.set('options', `${existing ? `${existing} ` : ''}-c search_path=${SCHEMA}`);
  return u.toString();
}

// Job data and results are JSON chosen by each handler; the runner does not look inside.
/* eslint-disable @typescript-eslint/no-explicit-any */
type PgQueue = Queue<any, any, string, any, any, string, PostgresQueueBackend, PostgresConnectionOptions>;
type PgWorker = Worker<any, any, string, PostgresQueueBackend, JobProgress, PostgresConnectionOptions>;
/* eslint-enable @typescript-eslint/no-explicit-any */

interface QueueSlot {
  readonly queue: PgQueue;
  readonly handlers: Map<string, JobHandler<never, unknown>>;
  worker: PgWorker | null;
}

/**
 * The one place that creates BullMQ queues, workers and repeatable
 * (scheduled) jobs for the rest of Tapestry (DESIGN §1: BullMQ on its
 * PostgreSQL backend, so jobs live in the same database). Components define
 * handlers by queue and job name; the composition root starts the runner and
 * closes it on shutdown. Time inside a job comes from the component's own
 * injected clock; BullMQ only decides *when* a job runs.
 */
export class JobRunner {
  /** Emits `completed` and `failed` with a JobEvent. */
  readonly events = new EventEmitter();
  private readonly queues = new Map<string, QueueSlot>();
  private readonly classes = withBackend(createPostgresBackend);
  private closing: Promise<void> | null = null;

  private constructor(private readonly pool: pg.Pool, private readonly log: Logger) {
    // An 'error' event without a listener would throw; failures are logged where they happen.
    this.events.on('error', () => undefined);
  }

  /** Open the job pool and bring BullMQ's own schema up to date (under BullMQ's advisory lock). */
  static async start(options: JobRunnerOptions): Promise<JobRunner> {
    const pool = createPool(withSearchPath(options.url), options.log, options.poolSize ?? 6);
    try {
      const client = await pool.connect();
      try {
        const version = await runMigrations(client, SCHEMA);
        options.log.debug({ event: 'jobs.migrated', schema: SCHEMA, version });
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end();
      throw new TapestryError('UNAVAILABLE', `cannot prepare the background-job tables (BullMQ schema ${SCHEMA}): ${(err as Error).message}`, { cause: err });
    }
    return new JobRunner(pool, options.log);
  }

  private slot(name: string): QueueSlot {
    const existing = this.queues.get(name);
    if (existing) return existing;
    const queue = new this.classes.Queue(name, {
      connection: this.pool,
      // Scheduled jobs run every hour or so for ever: keep a bounded trail of them.
      defaultJobOptions: { removeOnComplete: 100, removeOnFail: 500, attempts: 1 },
    });
    queue.on('error', (err: Error) => this.log.error({ event: 'jobs.queue_error', queue: name, err }));
    const slot: QueueSlot = { queue, handlers: new Map(), worker: null };
    this.queues.set(name, slot);
    return slot;
  }

  /** Register the code of job `name` on `queue`; the queue's worker starts with its first handler. */
  define<D, R>(queue: string, name: string, handler: JobHandler<D, R>): void {
    if (this.closing) throw new TapestryError('CONFLICT', 'the job runner is closed');
    const slot = this.slot(queue);
    if (slot.handlers.has(name)) throw new TapestryError('CONFLICT', `job ${queue}/${name} is defined twice`);
    slot.handlers.set(name, handler as JobHandler<never, unknown>);
    if (slot.worker) return;
    const worker = new this.classes.Worker(queue, (job: Job) => this.process(queue, job), { connection: this.pool, concurrency: 1 });
    worker.on('completed', (job: Job, result: unknown) => {
      this.log.debug({ event: 'jobs.completed', queue, job: job.name, id: job.id });
      this.events.emit('completed', { queue, name: job.name, id: job.id, result } satisfies JobEvent);
    });
    worker.on('failed', (job: Job | undefined, err: Error) => {
      this.log.warn({ event: 'jobs.failed', queue, job: job?.name, id: job?.id, err });
      this.events.emit('failed', { queue, name: job?.name ?? '?', id: job?.id, error: err } satisfies JobEvent);
    });
    worker.on('error', (err: Error) => this.log.error({ event: 'jobs.worker_error', queue, err }));
    slot.worker = worker;
  }

  private async process(queue: string, job: Job): Promise<unknown> {
    const handler = this.queues.get(queue)?.handlers.get(job.name);
    if (!handler) throw new UnrecoverableError(`no handler for job ${queue}/${job.name}`);
    try {
      return await handler(job.data as never, { id: job.id, name: job.name, queue });
    } catch (err) {
      if (isTapestryError(err) && !err.retryable) throw new UnrecoverableError(`${err.code}: ${err.message}`);
      throw err;
    }
  }

  /**
   * Run job `name` every `everyMs` (BullMQ job scheduler `id`, kept in the
   * database: a restart or a second process finds it and does not add
   * another). The first run is due at once.
   */
  async schedule(queue: string, id: string, name: string, everyMs: number, data: unknown = {}): Promise<void> {
    await this.slot(queue).queue.upsertJobScheduler(id, { every: everyMs }, { name, data });
    this.log.info({ event: 'jobs.scheduled', queue, id, job: name, everyMs });
  }

  /** Remove this queue's schedules whose id starts with `prefix` and is not in `keep` (config changed since). */
  async pruneSchedules(queue: string, prefix: string, keep: readonly string[]): Promise<string[]> {
    const q = this.slot(queue).queue;
    const removed: string[] = [];
    for (const s of await q.getJobSchedulers()) {
      const id = s.id ?? s.key;
      if (id.startsWith(prefix) && !keep.includes(id)) {
        await q.removeJobScheduler(id);
        removed.push(id);
      }
    }
    if (removed.length > 0) this.log.info({ event: 'jobs.unscheduled', queue, ids: removed });
    return removed;
  }

  async schedules(queue: string): Promise<ScheduleInfo[]> {
    return (await this.slot(queue).queue.getJobSchedulers()).map((s) => ({ id: s.id ?? s.key, name: s.name, everyMs: s.every ?? null, next: s.next ?? null }));
  }

  /** Queue one run of job `name` now; resolves with its job id once queued (not once run). */
  async enqueue(queue: string, name: string, data: unknown = {}): Promise<string | undefined> {
    return (await this.slot(queue).queue.add(name, data)).id;
  }

  /**
   * Run job `name`'s handler here and now and return its result: what an
   * operator's `--now` wants (the answer, not a ticket). It runs beside the
   * scheduled runs, so handlers must be safe to run twice at once.
   */
  async runNow<R>(queue: string, name: string, data: unknown = {}): Promise<R> {
    const handler = this.queues.get(queue)?.handlers.get(name);
    if (!handler) throw new TapestryError('NOT_FOUND', `no job ${queue}/${name} is defined`);
    return (await handler(data as never, { id: undefined, name, queue })) as R;
  }

  /** Stop the workers (letting a running job finish), then the queues, then the pool. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const slot of this.queues.values()) await slot.worker?.close();
      for (const slot of this.queues.values()) await slot.queue.close();
      await this.pool.end();
    })();
    return this.closing;
  }
}
