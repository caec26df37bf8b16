/**
 * File family width (reference/enstore.md §3 "Write", Enstore's busy_volumes):
 * never more write-enabled volumes of a family at movers than its width.
 *
 * A family volume at a mover is write-enabled unless it is full or not
 * writable, whatever the mover does with it: a read of a non-full family tape
 * uses one unit of width, a read of a full one none (Enstore UG §9.6.3). A
 * write already handed to a mover that has not reported its volume yet holds
 * one unit too.
 */
import type { Facts } from './facts.ts';

export interface FamilyWork {
  /** Write-enabled family volumes at movers (each counted once) plus writes awaiting a volume. */
  readonly inWork: number;
  /** Every family volume at a mover: the volume clerk must not return these for a new mount. */
  readonly busy: readonly string[];
}

export function familyWork(facts: Facts, family: string): FamilyWork {
  const writeEnabled = new Set<string>();
  const busy = new Set<string>();
  for (const { volume } of facts.volumesAtMovers) {
    if (volume.family !== family) continue;
    busy.add(volume.label);
    if (volume.writable && !volume.full) writeEnabled.add(volume.label);
  }
  return { inWork: writeEnabled.size + facts.pendingWritesOf(family), busy: [...busy] };
}
