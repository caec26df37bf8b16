import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import type { AlarmService } from '../src/alarms/index.ts';
import type { TapestryConfig } from '../src/config/index.ts';
import type { JobRunner } from '../src/jobs/index.ts';
import type { Logger } from '../src/logging/index.ts';
import type { Clock } from '../src/time/clock.ts';
import { AutoReadonly, type AutoReadonlyRun } from './auto-readonly-service.ts';
import { volumeLifecycleRoutes, type AutoReadonlyControl } from './lifecycle-routes.ts';
import { VolumeLifecycle } from './lifecycle-service.ts';
import { quotaRoutes } from './quota-routes.ts';
import { QuotaService } from './quota-service.ts';
import type { VolumeClerk } from './service.ts';

/** The volume clerk's background jobs live on this queue. */
export const VOLUME_QUEUE = 'volume-clerk';
export const AUTO_READONLY_JOB = 'auto-readonly';
const scheduleId = (library: string): string => `${AUTO_READONLY_JOB}:${library}`;

export interface VolumeAdminDeps {
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly log: Logger;
  readonly clerk: VolumeClerk;
  readonly config: Pick<TapestryConfig, 'libraries'>;
  /** Quota changes resolve the STORAGE_QUOTA_EXCEEDED alarms they make obsolete. */
  readonly alarms?: Pick<AlarmService, 'resolveCause'>;
  /** Null: no scheduled runs (`--now` still works, in this process). */
  readonly jobs: Pick<JobRunner, 'define' | 'schedule' | 'pruneSchedules' | 'schedules' | 'runNow'> | null;
}

export interface VolumeAdmin {
  readonly lifecycle: VolumeLifecycle;
  readonly quotas: QuotaService;
  readonly autoReadonly: AutoReadonly;
  /** Lifecycle, auto-readonly and quota routes, for the /api/v1 server. */
  readonly plugin: FastifyPluginAsync;
}

/**
 * The operators' side of the volume clerk: lifecycle, quotas and automatic
 * read-only, with the auto-readonly job defined on the job runner and
 * scheduled per library as the config says (schedules of libraries that lost
 * their `auto_readonly` are removed).
 */
export async function startVolumeAdmin(deps: VolumeAdminDeps): Promise<VolumeAdmin> {
  const lifecycle = new VolumeLifecycle({ pool: deps.pool, clock: deps.clock, log: deps.log });
  const quotas = new QuotaService({ db: deps.pool, clock: deps.clock, log: deps.log, ...(deps.alarms ? { alarms: deps.alarms } : {}) });
  const policies = new Map([...deps.config.libraries.values()].flatMap((l) => (l.autoReadonly ? [[l.name, l.autoReadonly] as const] : [])));
  const autoReadonly = new AutoReadonly({ pool: deps.pool, clock: deps.clock, log: deps.log, policies });

  const jobs = deps.jobs;
  if (jobs) {
    jobs.define<{ library?: string; olderThanMs?: number }, AutoReadonlyRun[]>(VOLUME_QUEUE, AUTO_READONLY_JOB, (data) => autoReadonly.run(data));
    for (const [library, p] of policies) await jobs.schedule(VOLUME_QUEUE, scheduleId(library), AUTO_READONLY_JOB, p.everyMs, { library });
    await jobs.pruneSchedules(VOLUME_QUEUE, `${AUTO_READONLY_JOB}:`, [...policies.keys()].map(scheduleId));
  }

  const control: AutoReadonlyControl = {
    run: (options) => (jobs ? jobs.runNow<AutoReadonlyRun[]>(VOLUME_QUEUE, AUTO_READONLY_JOB, options) : autoReadonly.run(options)),
    async status() {
      const scheduled = new Map((jobs ? await jobs.schedules(VOLUME_QUEUE) : []).map((s) => [s.id, s]));
      return autoReadonly.policies().map((p) => {
        const s = scheduled.get(scheduleId(p.library));
        return { ...p, everyMs: s?.everyMs ?? null, nextAt: s?.next ? new Date(s.next).toISOString() : null };
      });
    },
  };
  const routes = volumeLifecycleRoutes({ lifecycle, clerk: deps.clerk, autoReadonly: control });
  const quotaPlugin = quotaRoutes(quotas);
  const plugin: FastifyPluginAsync = async (app) => {
    await app.register(routes);
    await app.register(quotaPlugin);
  };
  return { lifecycle, quotas, autoReadonly, plugin };
}
