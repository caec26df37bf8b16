/**
 * A have-bound mover (Enstore's next_work_this_volume): reuse the mounted tape.
 *
 * - admin work for this tape first; if there is none but an admin request
 *   waits for a drive and no mover is idle, the tape is dismounted for it
 *   (a running transfer is never interrupted: only bound movers are asked);
 * - after a write: same-family writes onto this tape (writable, not full, the
 *   file fits), then reads of it; after a read: reads of it from the head in
 *   file order, wrapping to the lowest, then same-family writes. The tape
 *   already counts once towards its family's width, so reuse needs no check;
 * - no work: keep the tape for the dismount delay (the last request's
 *   `--delayed-dismount`, capped), then dismount; with `dismountWhenWorkWaits`,
 *   dismount at once when this mover, idle, would be given other work.
 */
import { Facts, writeFits } from './facts.ts';
import { idleWork } from './idle.ts';
import { dismountDelay, topRequest } from './priority.ts';
import { nextRead } from './queue-keys.ts';
import type { Decision, MountedVolume, MoverView, ReadRequest, WriteRequest } from './types.ts';

export function boundWork(facts: Facts, mover: MoverView, volume: MountedVolume): Decision {
  const { config } = facts.input;
  const label = volume.label;
  if (facts.isSuspect(label, mover.name)) return { kind: 'dismount', reason: `${mover.name} failed on ${label} before (suspect pair)`, skipped: [] };
  const reads = facts.allowed('read') ? facts.readsOf(label) : [];
  const writable = facts.allowed('write') && volume.writable && !volume.full;
  const writes = writable ? facts.writesOf(volume.family).filter((w) => writeFits(volume, w.size)) : [];

  const admin = reuse(facts, mover, volume, reads.filter((r) => r.admin), writes.filter((w) => w.admin));
  if (admin !== undefined) return admin;
  if (adminWaitsForDrive(facts, mover.name)) {
    return { kind: 'dismount', reason: `an admin request waits for a drive and no mover is idle: ${label} gives way`, skipped: [] };
  }
  const regular = reuse(facts, mover, volume, reads, writes);
  if (regular !== undefined) return regular;

  if (config.dismountWhenWorkWaits) {
    const other = idleWork(asIdle(facts, mover.name), mover.name);
    if (other.request !== undefined) return { kind: 'dismount', reason: `no more work for ${label}; other work waits (${other.decision.reason})`, skipped: [] };
  }
  const deadline = (mover.boundSince ?? facts.now) + dismountDelay(mover.dismountDelayMs, config);
  if (facts.now >= deadline) return { kind: 'dismount', reason: `no work for ${label} within the dismount delay`, skipped: [] };
  return { kind: 'wait', reason: `keep ${label} mounted until the dismount delay expires`, skipped: [], untilMs: deadline };
}

function reuse(
  facts: Facts,
  mover: MoverView,
  volume: MountedVolume,
  reads: readonly ReadRequest[],
  writes: readonly WriteRequest[],
): Decision | undefined {
  const read = nextRead(reads, volume.location);
  const write = topRequest(writes, facts.now, facts.input.config.agingStepMs);
  const first = mover.lastKind === 'write' ? (write ?? read) : (read ?? write);
  if (first === undefined) return undefined;
  if (first.kind === 'read') {
    const wrapped = first.fileNo < volume.location ? ', wrapped' : '';
    const reason = `next read on mounted ${volume.label}: file ${first.fileNo} (head at ${volume.location}${wrapped}; ${reads.length} queued)`;
    return { kind: 'read', requestId: first.id, volumeLabel: volume.label, reason, skipped: [] };
  }
  const reason = `next ${volume.family} write on mounted ${volume.label} (${writes.length} queued)`;
  return { kind: 'write', requestId: first.id, volumeLabel: volume.label, veto: [], reason, skipped: [] };
}

/** Enstore: admin work preempts a tape mounted for regular work only when no mover is idle. */
function adminWaitsForDrive(facts: Facts, moverName: string): boolean {
  if (!facts.queued.some((r) => r.admin) || facts.anotherMoverIdle(moverName)) return false;
  return idleWork(asIdle(facts, moverName), moverName).request?.admin === true;
}

/** The same facts with this mover's tape gone: what would it be given once dismounted? */
function asIdle(facts: Facts, moverName: string): Facts {
  const movers = facts.input.movers.map((m) => (m.name === moverName ? { name: m.name, state: 'idle' as const } : m));
  return new Facts({ ...facts.input, movers });
}
