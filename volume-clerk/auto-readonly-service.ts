import type pg from 'pg';
import { iso } from '../src/db/rows.ts';
import { withTransaction } from '../src/db/tx.ts';
import { TapestryError } from '../src/errors/index.ts';
import type { Logger } from '../src/logging/index.ts';
import type { Clock } from '../src/time/clock.ts';
import { formatDuration, staleVolumes, type AutoReadonlyPolicy } from './auto-readonly.ts';
import * as arRepo from './auto-readonly-repo.ts';
import * as repo from './repo.ts';

export interface AutoReadonlyDeps {
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly log: Logger;
  /** Per library, from the config's `auto_readonly` (libraries without one are left alone). */
  readonly policies: ReadonlyMap<string, AutoReadonlyPolicy>;
}

export interface AutoReadonlyRun {
  readonly library: string;
  readonly at: string;
  readonly olderThanMs: number;
  /** file family → its own age, when the config gives one. */
  readonly familyAges: Record<string, number>;
  /** Written volumes still open for writes that were looked at. */
  readonly considered: number;
  readonly marked: { label: string; fileFamily: string; newestFileAt: string; olderThanMs: number }[];
}

export const AUTO_READONLY_ACTOR = 'auto-readonly';

/** The automatic read-only job of the volume clerk: one run per library, each in one transaction. */
export class AutoReadonly {
  constructor(private readonly deps: AutoReadonlyDeps) {}

  /** The libraries that have a policy, with it (for `volume auto-readonly` without --now). */
  policies(): { library: string; olderThanMs: number; familyAges: Record<string, number> }[] {
    return [...this.deps.policies].map(([library, p]) => ({ library, olderThanMs: p.olderThanMs, familyAges: Object.fromEntries(p.families) }));
  }

  /**
   * Mark readonly every written volume whose files are all older than the
   * age (a system inhibit, with a history row saying why). `olderThanMs`
   * overrides the configured age for every family; without a library, every
   * library with a policy is checked (every library, with `olderThanMs`).
   */
  async run(options: { library?: string; olderThanMs?: number } = {}): Promise<AutoReadonlyRun[]> {
    const known = await arRepo.libraryNames(this.deps.pool);
    let libraries: string[];
    if (options.library !== undefined) {
      if (!known.includes(options.library)) throw new TapestryError('USERERROR', `unknown library ${JSON.stringify(options.library)}`, { context: { library: options.library } });
      if (!this.deps.policies.has(options.library) && options.olderThanMs === undefined) {
        throw new TapestryError('USERERROR', `library ${options.library} has no auto_readonly in the config; give an age (--older-than 30d)`, { context: { library: options.library } });
      }
      libraries = [options.library];
    } else {
      libraries = options.olderThanMs === undefined ? known.filter((l) => this.deps.policies.has(l)) : known;
    }
    const runs: AutoReadonlyRun[] = [];
    for (const library of libraries) {
      const configured = this.deps.policies.get(library);
      const policy: AutoReadonlyPolicy = options.olderThanMs !== undefined ? { olderThanMs: options.olderThanMs, families: new Map() } : configured!;
      runs.push(await this.runLibrary(library, policy));
    }
    return runs;
  }

  private async runLibrary(library: string, policy: AutoReadonlyPolicy): Promise<AutoReadonlyRun> {
    const now = this.deps.clock.now();
    const at = new Date(now);
    const { considered, marked } = await withTransaction(this.deps.pool, async (tx) => {
      const candidates = await arRepo.autoReadonlyCandidates(tx, library);
      const stale = staleVolumes(candidates, policy, now);
      const changed = new Map((await arRepo.markReadonly(tx, stale, at)).map((r) => [r.label, r.id]));
      const done = stale.filter((s) => changed.has(s.label));
      for (const s of done) {
        const rule = policy.families.has(s.fileFamily) ? `auto_readonly of file family ${s.fileFamily}` : `auto_readonly of library ${library}`;
        await repo.addHistory(tx, [changed.get(s.label)!], {
          kind: 'system_inhibit_state', oldValue: 'none', value: 'readonly', actor: AUTO_READONLY_ACTOR, at,
          reason: `no file written since ${iso(new Date(s.newestFileAt))}, older than ${formatDuration(s.olderThanMs)} (${rule})`,
        });
      }
      return { considered: candidates.length, marked: done };
    });
    if (marked.length > 0) this.deps.log.info({ event: 'volume.auto_readonly', library, volumes: marked.map((m) => m.label) });
    else this.deps.log.debug({ event: 'volume.auto_readonly', library, volumes: [], considered });
    return {
      library,
      at: iso(at),
      olderThanMs: policy.olderThanMs,
      familyAges: Object.fromEntries(policy.families),
      considered,
      marked: marked.map((m) => ({ label: m.label, fileFamily: m.fileFamily, newestFileAt: iso(new Date(m.newestFileAt)), olderThanMs: m.olderThanMs })),
    };
  }
}
