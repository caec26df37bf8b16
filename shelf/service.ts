import type pg from 'pg';
import { withTransaction } from '../src/db/index.ts';
import { TapestryError } from '../src/errors/index.ts';
import type { Logger } from '../src/logging/index.ts';
import type { Clock } from '../src/time/clock.ts';
import type { MediaChangerService } from '../media-changer/service.ts';
import { addHistory, volumeByLabel } from '../volume-clerk/repo.ts';
import type { VolumeClerk } from '../volume-clerk/service.ts';
import { planImport, type ImportAction, type MailslotCartridge } from './import-plan.ts';
import { assignedRequests, setShelfPolicy, type ShelfPolicy } from './repo.ts';

export interface ShelfDeps {
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly log: Logger;
  readonly volumes: Pick<VolumeClerk, 'getVolume' | 'addVolume' | 'setLocation'>;
  readonly changers: readonly MediaChangerService[];
  /** Whether a cartridge holds no record; null = cannot tell (real hardware). Injected from the simulator. */
  readonly isBlank: (label: string) => Promise<boolean | null>;
  /** Called after volumes came back into a library, so requests held for them are scheduled again. */
  readonly onReturned: (library: string, labels: readonly string[]) => void;
  /** Volumes the library manager has in, or assigned to, a mover's drive: never ejected. */
  readonly busyVolumes: (library: string) => readonly string[];
}

/** One row of `volume eject`'s answer. */
export interface EjectResult {
  readonly label: string;
  readonly action: 'ejected' | 'refused' | 'not-done';
  readonly mailslot: number | null;
  readonly message: string;
}

export interface EjectAttempt {
  readonly outcome: 'ejected' | 'refused' | 'busy' | 'full';
  readonly mailslot?: number;
  readonly message: string;
}

export interface EjectOptions {
  /** Where the operator keeps it (`rack 3`); shown in SHELVED errors and fetch alarms. */
  readonly shelf: string | null;
  readonly policy: ShelfPolicy;
  /** Eject at most this many. */
  readonly max?: number;
  readonly actor: string;
}

/** One row of `volume import`'s answer. */
export interface ImportResult {
  readonly label: string;
  readonly mailslot: number;
  readonly action: 'returned' | 'declared' | 'left' | 'failed';
  readonly slot: number | null;
  readonly message: string;
}

const ACTOR = 'shelf';

/**
 * Volumes leaving for and coming back from the shelf (Enstore's
 * `enstore media_changer --insert` with volume clerk bookkeeping): import of
 * what an operator put into the mail slots, and shelf policies.
 */
export class ShelfService {
  constructor(private readonly deps: ShelfDeps) {}

  private changerOf(library: string): MediaChangerService {
    const changer = this.deps.changers.find((c) => c.hasLibrary(library));
    if (!changer) {
      const known = this.deps.changers.flatMap((c) => c.libraries().map((l) => l.name)).join(', ');
      throw new TapestryError('USERERROR', `unknown library ${JSON.stringify(library)} (libraries: ${known})`, { context: { library } });
    }
    return changer;
  }

  /** Every library, or the one named. */
  private libraries(library: string | undefined): string[] {
    if (library !== undefined) {
      this.changerOf(library); // USERERROR naming the libraries there are
      return [library];
    }
    return this.deps.changers.flatMap((c) => c.libraries().map((l) => l.name));
  }

  /**
   * Enter every cartridge in the mail slots of the library's robot: known
   * volumes go back to a storage slot, unknown blank ones are declared, other
   * ones stay in the mail slot. Each cartridge is handled on its own: one
   * failure is reported in its row and the rest go on.
   */
  async importVolumes(library?: string): Promise<ImportResult[]> {
    const results: ImportResult[] = [];
    for (const lib of this.libraries(library)) {
      const changer = this.changerOf(lib);
      const inv = await changer.inventory(lib);
      const found: MailslotCartridge[] = [];
      for (const m of inv.mailslots) {
        if (m.label === null) continue;
        const v = await volumeByLabel(this.deps.pool, m.label);
        found.push({ label: m.label, mailslot: m.mailslot, volume: v, blank: v === null ? await this.deps.isBlank(m.label) : null });
      }
      const returned: string[] = [];
      for (const action of planImport(lib, found)) {
        const r = await this.apply(lib, changer, inv.mediaType, action);
        if (r.action === 'returned') returned.push(r.label);
        results.push(r);
      }
      if (returned.length > 0) this.deps.onReturned(lib, returned);
    }
    return results;
  }

  private async apply(library: string, changer: MediaChangerService, mediaType: string, action: ImportAction): Promise<ImportResult> {
    const { label, mailslot } = action;
    if (action.kind === 'leave') {
      this.deps.log.warn({ event: 'shelf.import.left', label, mailslot, reason: action.reason });
      return { label, mailslot, action: 'left', slot: null, message: action.reason };
    }
    try {
      if (action.kind === 'declare') {
        await this.deps.volumes.addVolume({ label, library, mediaType, comment: 'blank cartridge entered through the mail slot' }, ACTOR);
      }
      const { slot } = await changer.enter(label);
      await this.deps.volumes.setLocation(label, { kind: 'slot', ref: String(slot) }, ACTOR);
      this.deps.log.info({ event: 'shelf.import', label, mailslot, slot, action: action.kind });
      return action.kind === 'return'
        ? { label, mailslot, action: 'returned', slot, message: `back from ${action.from}` }
        : { label, mailslot, action: 'declared', slot, message: 'new blank volume in the common pool' };
    } catch (err) {
      this.deps.log.error({ event: 'shelf.import.failed', label, mailslot, err });
      return { label, mailslot, action: 'failed', slot: null, message: (err as Error).message };
    }
  }

  /**
   * One attempt to eject one volume: to a free mail slot and on the shelf.
   * `busy` = in a drive or handed to a mover (never interrupt a transfer: try
   * again later); `full` = no free mail slot (wait for the operator).
   */
  async tryEject(label: string, opts: EjectOptions): Promise<EjectAttempt> {
    try {
      const v = await this.deps.volumes.getVolume(label);
      if (v.location.kind === 'shelf') return { outcome: 'refused', message: `already on the shelf${v.location.ref === null ? '' : ` (${v.location.ref})`}` };
      if (v.location.kind === 'drive') return { outcome: 'busy', message: `in drive ${v.location.ref ?? '?'}` };
      if (this.deps.busyVolumes(v.library).includes(label) || (await assignedRequests(this.deps.pool, label)) > 0) return { outcome: 'busy', message: 'assigned to a mover' };
      if (v.location.kind !== 'slot') return { outcome: 'refused', message: `not in a storage slot (location ${v.location.kind}${v.location.ref === null ? '' : ` ${v.location.ref}`})` };
      const { mailslot } = await this.changerOf(v.library).exit(label);
      await this.deps.volumes.setLocation(label, { kind: 'shelf', ref: opts.shelf }, opts.actor);
      await this.setShelfPolicy(label, opts.policy, opts.actor);
      this.deps.log.info({ event: 'shelf.eject', label, mailslot, shelf: opts.shelf, policy: opts.policy });
      return { outcome: 'ejected', mailslot, message: `to mail slot I${mailslot}, shelf ${opts.shelf ?? '-'}, on access: ${opts.policy}` };
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.code === 'ELEMENT_FULL') return { outcome: 'full', message: 'the mail slots are full: the operator must empty them' };
      return { outcome: 'refused', message: e.message };
    }
  }

  /**
   * Eject without waiting: busy volumes are refused, and once the mail slots
   * are full the rest is reported not done. The eject job (eject-job.ts) waits instead.
   */
  async eject(labels: readonly string[], opts: EjectOptions): Promise<EjectResult[]> {
    const results: EjectResult[] = [];
    let ejected = 0;
    let full = false;
    for (const label of labels) {
      if (full || (opts.max !== undefined && ejected >= opts.max)) {
        results.push({ label, action: 'not-done', mailslot: null, message: full ? 'the mail slots are full: empty them and eject again' : `--max ${opts.max} reached` });
        continue;
      }
      const a = await this.tryEject(label, opts);
      if (a.outcome === 'ejected') ejected++;
      if (a.outcome === 'full') full = true;
      results.push({
        label,
        action: a.outcome === 'ejected' ? 'ejected' : a.outcome === 'full' ? 'not-done' : 'refused',
        mailslot: a.mailslot ?? null,
        message: a.outcome === 'busy' ? `${a.message}: eject it once it is dismounted` : a.outcome === 'full' ? 'the mail slots are full: empty them and eject again' : a.message,
      });
    }
    return results;
  }

  /** `volume set-shelf-policy`: what a read of the volume does while it is on the shelf. */
  async setShelfPolicy(label: string, policy: ShelfPolicy, actor: string): Promise<{ label: string; shelfPolicy: ShelfPolicy; previous: ShelfPolicy }> {
    const at = new Date(this.deps.clock.now());
    const old = await withTransaction(this.deps.pool, async (tx) => {
      const changed = await setShelfPolicy(tx, label, policy, at);
      if (!changed) throw new TapestryError('NO_SUCH_VOLUME', `no volume ${label}`, { context: { label } });
      await addHistory(tx, [changed.id], { kind: 'shelf_policy', oldValue: changed.old, value: policy, actor, at });
      return changed.old;
    });
    this.deps.log.info({ event: 'shelf.policy', label, policy, previous: old, actor });
    return { label, shelfPolicy: policy, previous: old };
  }
}
