import type pg from 'pg';
import { withTransaction } from '../src/db/tx.ts';
import { TapestryError } from '../src/errors/index.ts';
import type { Logger } from '../src/logging/index.ts';
import { validateName } from '../src/namespace/tags.ts';
import type { Clock } from '../src/time/clock.ts';
import { checkAssignStorageGroup, checkErase, planDelete, planRecycle, planRestore } from './lifecycle.ts';
import * as life from './lifecycle-repo.ts';
import * as repo from './repo.ts';
import type { Volume } from './repo.ts';

export interface VolumeLifecycleDeps {
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly log: Logger;
}

/** Who asked, and why (both kept in the volume's history). */
export interface Actor {
  readonly actor: string;
  readonly reason?: string;
}

export type DeleteOutcome =
  | { readonly outcome: 'removed'; readonly label: string }
  | { readonly outcome: 'renamed'; readonly label: string; readonly volume: Volume };

/**
 * The operator's volume lifecycle (Enstore's `enstore vol --delete, --restore,
 * --recycle, --erase, --assign-sg, --write-protect-on/off`). Each change runs
 * in one transaction with the volume row locked and writes a history row
 * (what, old → new, who, why).
 */
export class VolumeLifecycle {
  constructor(private readonly deps: VolumeLifecycleDeps) {}

  private now(): Date {
    return new Date(this.deps.clock.now());
  }

  private async locked(tx: pg.PoolClient, label: string): Promise<Volume> {
    const v = await repo.volumeByLabel(tx, label, { forUpdate: true });
    if (!v) throw new TapestryError('NO_SUCH_VOLUME', `no volume ${label}`, { context: { volume: label } });
    return v;
  }

  /**
   * Delete a volume whose files are all deleted: a written one becomes
   * `LABEL.deleted` (system access DELETED) so the cartridge can be declared
   * again under its label; a never-written one is removed (its history stays).
   */
  async deleteVolume(label: string, who: Actor): Promise<DeleteOutcome> {
    const at = this.now();
    const result = await withTransaction(this.deps.pool, async (tx): Promise<DeleteOutcome> => {
      const v = await this.locked(tx, label);
      const plan = planDelete(v, await life.fileCounts(tx, v.id));
      if (plan.action === 'remove') {
        await repo.addHistory(tx, [v.id], { kind: 'removed', oldValue: label, value: null, actor: who.actor, reason: who.reason, at });
        await life.deleteVolumeRow(tx, v.id);
        return { outcome: 'removed', label };
      }
      if (await life.labelTaken(tx, plan.newLabel)) {
        throw new TapestryError('CONFLICT', `cannot delete ${label}: ${plan.newLabel} exists already; erase it first (\`tapestry volume erase ${plan.newLabel}\`)`, { context: { volume: label } });
      }
      await life.renameVolume(tx, v.id, plan.newLabel, 'DELETED', at);
      await repo.addHistory(tx, [v.id], { kind: 'deleted', oldValue: label, value: plan.newLabel, actor: who.actor, reason: who.reason, at });
      return { outcome: 'renamed', label: plan.newLabel, volume: (await repo.volumeByLabel(tx, plan.newLabel))! };
    });
    this.deps.log.info({ event: 'volume.deleted', volume: label, outcome: result.outcome, label: result.label, actor: who.actor });
    return result;
  }

  /** Undo a delete: `LABEL.deleted` gets its label back and loses DELETED (its files stay deleted). */
  async restoreVolume(label: string, who: Actor): Promise<Volume> {
    const at = this.now();
    const volume = await withTransaction(this.deps.pool, async (tx) => {
      const v = await this.locked(tx, label);
      const { newLabel } = planRestore(v);
      if (await life.labelTaken(tx, newLabel)) {
        throw new TapestryError('CONFLICT', `cannot restore ${label}: a volume ${newLabel} was declared since; delete or rename that one first`, { context: { volume: label } });
      }
      await life.renameVolume(tx, v.id, newLabel, 'none', at);
      await repo.addHistory(tx, [v.id], { kind: 'restored', oldValue: label, value: newLabel, actor: who.actor, reason: who.reason, at });
      return (await repo.volumeByLabel(tx, newLabel))!;
    });
    this.deps.log.info({ event: 'volume.restored', volume: volume.label, actor: who.actor });
    return volume;
  }

  /**
   * Recycle: back to the blank pool of its storage group (`sg.none.none`, or
   * the common pool with `clearStorageGroup`), end-of-data and counters reset
   * except mounts, remaining = capacity. The deleted files on it lose their
   * position (the tape will be overwritten). A `LABEL.deleted` volume comes
   * back under LABEL.
   */
  async recycleVolume(label: string, who: Actor & { clearStorageGroup?: boolean }): Promise<Volume> {
    const at = this.now();
    const volume = await withTransaction(this.deps.pool, async (tx) => {
      const v = await this.locked(tx, label);
      const { newLabel } = planRecycle(v, await life.fileCounts(tx, v.id));
      if (newLabel !== label && (await life.labelTaken(tx, newLabel))) {
        throw new TapestryError('CONFLICT', `cannot recycle ${label} as ${newLabel}: a volume ${newLabel} was declared since`, { context: { volume: label } });
      }
      const storageGroup = who.clearStorageGroup ? 'none' : v.storageGroup;
      const detached = await life.detachFiles(tx, v.id);
      await life.resetToBlank(tx, v.id, newLabel, storageGroup, at);
      const family = `${storageGroup}.none.none`;
      await repo.addHistory(tx, [v.id], {
        kind: 'recycled',
        oldValue: v.volumeFamily,
        value: family,
        actor: who.actor,
        reason: [who.reason, newLabel === label ? null : `${label} renamed ${newLabel}`, `end of data was ${v.eodFileNo ?? 'blank'}; ${detached} deleted file record(s) detached`].filter(Boolean).join('; '),
        at,
      });
      return (await repo.volumeByLabel(tx, newLabel))!;
    });
    this.deps.log.info({ event: 'volume.recycled', volume: volume.label, family: volume.volumeFamily, actor: who.actor });
    return volume;
  }

  /** Erase a deleted volume: its row goes, its history stays (found by its last label). */
  async eraseVolume(label: string, who: Actor): Promise<{ label: string; erased: true }> {
    const at = this.now();
    await withTransaction(this.deps.pool, async (tx) => {
      const v = await this.locked(tx, label);
      checkErase(v);
      // History first: the trigger takes the label from the row about to go.
      await repo.addHistory(tx, [v.id], { kind: 'erased', oldValue: label, value: null, actor: who.actor, reason: who.reason, at });
      await life.detachFiles(tx, v.id);
      await life.deleteVolumeRow(tx, v.id);
    });
    this.deps.log.info({ event: 'volume.erased', volume: label, actor: who.actor });
    return { label, erased: true };
  }

  /** Give a blank volume to a storage group's blank pool (`none` = back to the common pool). */
  async assignStorageGroup(label: string, storageGroup: string, who: Actor): Promise<Volume> {
    const sg = storageGroup === 'none' ? 'none' : validateName('storage_group', storageGroup);
    const at = this.now();
    return withTransaction(this.deps.pool, async (tx) => {
      const v = await this.locked(tx, label);
      checkAssignStorageGroup(v, await life.fileCounts(tx, v.id));
      if (v.storageGroup !== sg) {
        await life.setStorageGroup(tx, v.id, sg, at);
        await repo.addHistory(tx, [v.id], { kind: 'storage_group', oldValue: v.storageGroup, value: sg, actor: who.actor, reason: who.reason, at });
        this.deps.log.info({ event: 'volume.storage_group', volume: label, from: v.storageGroup, to: sg, actor: who.actor });
      }
      return (await repo.volumeByLabel(tx, label))!;
    });
  }

  /** Mark the cartridge write-protected (its tab) or not; a protected volume is never chosen for writes. */
  async setWriteProtect(label: string, on: boolean, who: Actor): Promise<Volume> {
    const value = on ? 'y' : 'n';
    const at = this.now();
    return withTransaction(this.deps.pool, async (tx) => {
      const v = await this.locked(tx, label);
      if (v.writeProtected !== value) {
        await life.setWriteProtected(tx, v.id, value, at);
        await repo.addHistory(tx, [v.id], { kind: 'write_protect', oldValue: v.writeProtected, value, actor: who.actor, reason: who.reason, at });
        this.deps.log.info({ event: 'volume.write_protect', volume: label, value, actor: who.actor });
      }
      return (await repo.volumeByLabel(tx, label))!;
    });
  }
}
