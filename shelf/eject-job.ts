import { TapestryError } from '../src/errors/index.ts';
import type { JobRunner } from '../src/jobs/index.ts';
import type { Logger } from '../src/logging/index.ts';
import type { Clock } from '../src/time/clock.ts';
import type { EjectOptions, EjectResult, ShelfService } from './service.ts';

export const SHELF_QUEUE = 'shelf';
export const EJECT_JOB = 'eject';

export interface EjectJobData extends EjectOptions {
  readonly labels: readonly string[];
}

/** What `volume eject-status` shows: one row per label, filled in as the job goes. */
export interface EjectProgress {
  readonly job: string;
  state: 'queued' | 'running' | 'waiting' | 'done' | 'failed';
  /** Why the job waits (a busy volume, full mail slots), while it does. */
  waitingFor: string | null;
  readonly results: EjectResult[];
}

export interface EjectJobsDeps {
  readonly shelf: Pick<ShelfService, 'tryEject'>;
  readonly jobs: Pick<JobRunner, 'define' | 'enqueue'>;
  readonly clock: Clock;
  readonly log: Logger;
  /**
   * Ask the library managers for a scheduling pass: after a volume stopped
   * leaving (requests held for it may go on), and while one waits in a drive
   * (the pass dismounts it once idle).
   */
  readonly onReleased?: () => void;
  /** How often a waiting eject looks again (at the robot's mail slots, at the volume). */
  readonly pollMs?: number;
}

/**
 * `volume eject` as a BullMQ job (one at a time per process: the queue's
 * worker runs one job). Unlike ShelfService.eject it waits: for a volume in
 * a drive until it is dismounted (the transfer is never interrupted), and for
 * full mail slots until the operator empties them. Progress is kept in
 * memory: the job runs in this process, and the status is for the operator
 * watching it now, not an audit trail (volume history is that).
 */
export class EjectJobs {
  private readonly progress = new Map<string, EjectProgress>();
  private readonly stopping = new AbortController();
  /** The volume the running job is ejecting: the library manager mounts it for no new work meanwhile. */
  private readonly leaving = new Set<string>();

  constructor(private readonly deps: EjectJobsDeps) {
    deps.jobs.define<EjectJobData, EjectResult[]>(SHELF_QUEUE, EJECT_JOB, (data, job) => this.run(data, job.id ?? 'now'));
  }

  async start(data: EjectJobData): Promise<EjectProgress> {
    const id = await this.deps.jobs.enqueue(SHELF_QUEUE, EJECT_JOB, data);
    if (id === undefined) throw new TapestryError('INTERNAL', 'the eject job got no id');
    return this.entry(id);
  }

  status(id: string): EjectProgress {
    const p = this.progress.get(id);
    if (!p) throw new TapestryError('NOT_FOUND', `no eject job ${id} (jobs are known until tapestry restarts)`, { context: { job: id } });
    return p;
  }

  leavingVolumes(): ReadonlySet<string> {
    return this.leaving;
  }

  /** Stop waiting (shutdown): the job ends with what it ejected so far. */
  stop(): void {
    this.stopping.abort();
  }

  private entry(id: string): EjectProgress {
    let p = this.progress.get(id);
    if (!p) {
      p = { job: id, state: 'queued', waitingFor: null, results: [] };
      this.progress.set(id, p);
    }
    return p;
  }

  private async run(data: EjectJobData, id: string): Promise<EjectResult[]> {
    const p = this.entry(id);
    p.state = 'running';
    const pollMs = this.deps.pollMs ?? 500;
    let ejected = 0;
    try {
      for (const label of data.labels) {
        if (data.max !== undefined && ejected >= data.max) {
          p.results.push({ label, action: 'not-done', mailslot: null, message: `--max ${data.max} reached` });
          continue;
        }
        this.leaving.add(label);
        try {
          for (;;) {
            if (this.stopping.signal.aborted) throw new TapestryError('UNAVAILABLE', 'tapestry is shutting down');
            const a = await this.deps.shelf.tryEject(label, data);
            if (a.outcome === 'ejected' || a.outcome === 'refused') {
              p.results.push({ label, action: a.outcome, mailslot: a.mailslot ?? null, message: a.message });
              if (a.outcome === 'ejected') ejected++;
              break;
            }
            p.state = 'waiting';
            // A scheduling pass dismounts the volume if it sits idle in a drive.
            if (a.outcome === 'busy') this.deps.onReleased?.();
            p.waitingFor = a.outcome === 'full' ? 'the operator to empty the mail slots' : `${label} (${a.message}) to be dismounted`;
            await this.deps.clock.sleep(pollMs, this.stopping.signal).catch(() => undefined);
          }
        } finally {
          // Once ejected, its shelf location holds new work; otherwise let it go back to work.
          this.leaving.delete(label);
          this.deps.onReleased?.();
        }
        p.state = 'running';
        p.waitingFor = null;
      }
      p.state = 'done';
      this.deps.log.info({ event: 'shelf.eject_job.done', job: id, ejected });
      return p.results;
    } catch (err) {
      p.state = 'failed';
      p.waitingFor = (err as Error).message;
      throw err;
    }
  }
}
