/**
 * The FIFO baseline the scheduler is measured against: every mover takes the
 * oldest request it may run (arrival order, priorities ignored), and a mounted
 * tape is kept only while the oldest request happens to be for it; otherwise
 * it is dismounted at once. The hard rules still hold (library state, a volume
 * busy at another mover, family width, suspect pairs), so it is a fair
 * baseline, not a broken one.
 */
import { Facts, familyOf, writeFits } from './facts.ts';
import { compareIds } from './priority.ts';
import type { Decision, MoverView, Policy, QueuedRequest } from './types.ts';
import { familyWork } from './width.ts';

export const fifoPolicy: Policy = (input, moverName): Decision => {
  const facts = new Facts(input);
  const mover = facts.mover(moverName);
  const bound = mover?.state === 'have_bound' ? mover.volume : undefined;
  if (mover === undefined || !(bound !== undefined || (mover.state === 'idle' && mover.volume === undefined))) {
    return { kind: 'wait', reason: `${moverName} cannot take work now`, skipped: [] };
  }
  let oldest: QueuedRequest | undefined;
  for (const r of facts.queued) {
    if (runnable(facts, mover, r) && (oldest === undefined || r.queuedAt < oldest.queuedAt || (r.queuedAt === oldest.queuedAt && compareIds(r.id, oldest.id) < 0))) oldest = r;
  }
  if (bound !== undefined) {
    const onThisTape =
      oldest !== undefined &&
      (oldest.kind === 'read'
        ? oldest.volumeLabel === bound.label
        : familyOf(oldest) === bound.family && bound.writable && !bound.full && writeFits(bound, oldest.size));
    if (oldest === undefined || !onThisTape) return { kind: 'dismount', reason: `FIFO: the oldest request is not for ${bound.label}`, skipped: [] };
    if (oldest.kind === 'read') return { kind: 'read', requestId: oldest.id, volumeLabel: bound.label, reason: 'FIFO: oldest request, same tape', skipped: [] };
    return { kind: 'write', requestId: oldest.id, volumeLabel: bound.label, veto: [], reason: 'FIFO: oldest request, same tape', skipped: [] };
  }
  if (oldest === undefined) return { kind: 'wait', reason: 'FIFO: nothing runnable', skipped: [] };
  if (oldest.kind === 'read') return { kind: 'read', requestId: oldest.id, volumeLabel: oldest.volumeLabel, reason: 'FIFO: oldest request', skipped: [] };
  const veto = [...new Set([...familyWork(facts, familyOf(oldest)).busy, ...facts.suspectVolumesOf(mover.name)])];
  return { kind: 'write', requestId: oldest.id, veto, reason: 'FIFO: oldest request', skipped: [] };
};

function runnable(facts: Facts, mover: MoverView, r: QueuedRequest): boolean {
  if (!facts.allowed(r.kind)) return false;
  if (r.kind === 'read') {
    const at = facts.busyVolumes.get(r.volumeLabel);
    return (at === undefined || at === mover.name) && !facts.isSuspect(r.volumeLabel, mover.name);
  }
  const family = familyOf(r);
  // A write onto the tape this mover holds adds no width; any other needs a free unit.
  if (mover.volume?.family === family && mover.volume.writable && !mover.volume.full) return true;
  return familyWork(facts, family).inWork < r.width;
}
