import type { Queryable } from '../src/db/pool.ts';
import { TapestryError } from '../src/errors/index.ts';
import type { Logger } from '../src/logging/index.ts';
import { validateName } from '../src/namespace/tags.ts';
import type { AlarmService } from '../src/alarms/index.ts';
import type { Clock } from '../src/time/clock.ts';
import * as repo from './quota-repo.ts';
import type { QuotaUsage } from './quota-repo.ts';

export interface QuotaServiceDeps {
  readonly db: Queryable;
  readonly clock: Clock;
  readonly log: Logger;
  /** To resolve a STORAGE_QUOTA_EXCEEDED alarm once a new quota leaves room. */
  readonly alarms?: Pick<AlarmService, 'resolveCause'>;
}

export interface QuotaReport {
  readonly quotas: QuotaUsage[];
  /** Blank volumes left in each library's common pool. */
  readonly commonPool: { library: string; blank: number }[];
}

/**
 * Storage-group quotas (Enstore's `enstore quota`): how many volumes a storage
 * group may hold in a library before next-write-volume stops giving it more
 * from the common blank pool (STORAGE_QUOTA_EXCEEDED plus an alarm). Its own
 * reserved blanks (`sg.none.none`) are always usable.
 */
export class QuotaService {
  constructor(private readonly deps: QuotaServiceDeps) {}

  async show(filter: { library?: string } = {}): Promise<QuotaReport> {
    if (filter.library !== undefined) await this.requireLibrary(filter.library);
    return { quotas: await repo.quotaUsage(this.deps.db, filter), commonPool: await repo.commonPoolBlanks(this.deps.db, filter.library) };
  }

  async set(library: string, storageGroup: string, quota: number, actor = 'operator'): Promise<QuotaUsage> {
    const sg = validateName('storage_group', storageGroup);
    if (!Number.isSafeInteger(quota) || quota < 0) throw new TapestryError('USERERROR', `a quota is a whole number of volumes >= 0, not ${quota}`, { context: { quota } });
    await this.requireLibrary(library);
    await repo.upsertQuota(this.deps.db, library, sg, quota, new Date(this.deps.clock.now()));
    this.deps.log.info({ event: 'quota.set', library, storageGroup: sg, quota, actor });
    const usage = (await repo.quotaUsage(this.deps.db, { library, storageGroup: sg }))[0]!;
    if (usage.quota === null || usage.used < usage.quota) await this.roomAgain(library, sg, actor);
    return usage;
  }

  /** The group may take a volume again: its quota alarm (if open) is resolved. */
  private async roomAgain(library: string, storageGroup: string, actor: string): Promise<void> {
    await this.deps.alarms?.resolveCause(`STORAGE_QUOTA_EXCEEDED:${library}:${storageGroup}`, `${actor}: quota changed`);
  }

  /** Remove a quota: the storage group may again take any number of common-pool volumes. */
  async clear(library: string, storageGroup: string, actor = 'operator'): Promise<QuotaUsage> {
    await this.requireLibrary(library);
    if (!(await repo.deleteQuota(this.deps.db, library, storageGroup))) {
      throw new TapestryError('NOT_FOUND', `storage group ${storageGroup} has no quota in library ${library}`, { context: { library, storageGroup } });
    }
    this.deps.log.info({ event: 'quota.cleared', library, storageGroup, actor });
    await this.roomAgain(library, storageGroup, actor);
    return (await repo.quotaUsage(this.deps.db, { library, storageGroup }))[0] ?? { library, storageGroup, used: 0, blank: 0, quota: null, updatedAt: null };
  }

  private async requireLibrary(library: string): Promise<void> {
    if (!(await repo.libraryExists(this.deps.db, library))) throw new TapestryError('USERERROR', `unknown library ${JSON.stringify(library)}`, { context: { library } });
  }
}
