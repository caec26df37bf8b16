/**
 * An idle mover (Enstore's next_work_any_volume): walk the queue keys in rank
 * order and give the mover the first one it may take.
 *
 * - read: skipped while its volume is at another mover (it is served there) or
 *   when this (volume, mover) pair is suspect; otherwise the volume's lowest
 *   queued file goes first, so the mount reads in one sweep from BOT;
 * - write: skipped when the family has `width` write-enabled volumes at movers
 *   (VOLS_IN_WORK), or when a have-bound mover holds a writable family volume
 *   the write fits on (it is left for that mover); otherwise the volume clerk
 *   picks a volume, with every busy family volume and this mover's suspects vetoed;
 * - CTA mount criteria, when configured, hold back a new mount of a key with
 *   too few bytes/files and no request old enough;
 * - fair share: a storage group already holding its drive limit is passed over
 *   while another group's key can be served; it gets the drive only if none can.
 */
import type { Facts } from './facts.ts';
import { writeFits } from './facts.ts';
import type { KeyGroup } from './queue-keys.ts';
import { nextRead, rankedKeys } from './queue-keys.ts';
import type { Decision, Dispatch, MountCriteria, QueuedRequest, Skip, SkipCode } from './types.ts';
import { familyWork } from './width.ts';

/** A decision with the request it hands out, if any. */
export interface Chosen {
  readonly decision: Decision;
  readonly request?: QueuedRequest;
}

type Offer =
  | { readonly decision: Dispatch; readonly request: QueuedRequest; readonly mounts: number }
  | { readonly code: SkipCode };

export function idleWork(facts: Facts, moverName: string): Chosen {
  const { config, libraryState } = facts.input;
  if (!facts.allowed('read') && !facts.allowed('write')) {
    return { decision: { kind: 'wait', reason: `library is ${libraryState}: nothing is dispatched`, skipped: [] } };
  }
  const skipped: Skip[] = [];
  let fallback: Extract<Offer, { request: QueuedRequest }> | undefined;
  let retryAt: number | undefined;
  for (const g of rankedKeys(facts, config)) {
    const offer: Offer = !facts.allowed(g.kind) ? { code: 'LIBRARY_STATE' } : g.kind === 'read' ? offerRead(facts, moverName, g) : offerWrite(facts, moverName, g);
    if ('code' in offer) {
      skipped.push({ key: g.key, code: offer.code });
      continue;
    }
    if (config.mountCriteria !== undefined && !g.top.admin) {
      const met = criteriaMet(config.mountCriteria, g, offer.mounts, facts.now);
      if (met !== true) {
        skipped.push({ key: g.key, code: 'MOUNT_CRITERIA' });
        if (met.retryAt !== undefined) retryAt = Math.min(retryAt ?? Infinity, met.retryAt);
        continue;
      }
    }
    const limit = config.storageGroupLimits[g.storageGroup];
    if (!g.top.admin && limit !== undefined && facts.drivesHeld(g.storageGroup) >= limit) {
      skipped.push({ key: g.key, code: 'FAIR_SHARE' });
      fallback ??= offer;
      continue;
    }
    return { decision: { ...offer.decision, skipped }, request: offer.request };
  }
  if (fallback !== undefined) {
    const reason = `${fallback.decision.reason}; storage group ${fallback.request.storageGroup} is at its drive limit but nothing else can run`;
    return { decision: { ...fallback.decision, reason, skipped }, request: fallback.request };
  }
  const reason = skipped.length === 0 ? 'no queued work' : `no dispatchable work (${skipped.length} keys passed over)`;
  return { decision: retryAt === undefined ? { kind: 'wait', reason, skipped } : { kind: 'wait', reason, skipped, untilMs: retryAt } };
}

function offerRead(facts: Facts, moverName: string, g: Extract<KeyGroup, { kind: 'read' }>): Offer {
  if (facts.busyVolumes.has(g.key)) return { code: 'VOL_BUSY' };
  if (facts.isSuspect(g.key, moverName)) return { code: 'SUSPECT' };
  const request = nextRead(g.requests, 0) ?? g.top;
  const reason = `mount ${g.key} for ${g.requests.length} read(s), first file ${request.fileNo}`;
  return { decision: { kind: 'read', requestId: request.id, volumeLabel: g.key, reason, skipped: [] }, request, mounts: 0 };
}

function offerWrite(facts: Facts, moverName: string, g: Extract<KeyGroup, { kind: 'write' }>): Offer {
  const family = g.key;
  const work = familyWork(facts, family);
  if (work.inWork >= g.top.width) return { code: 'VOLS_IN_WORK' };
  const leftForBound = facts.volumesAtMovers.some(
    ({ mover, volume }) =>
      mover.name !== moverName &&
      mover.state === 'have_bound' &&
      volume.family === family &&
      volume.writable &&
      !volume.full &&
      writeFits(volume, g.top.size) &&
      !facts.isSuspect(volume.label, mover.name),
  );
  if (leftForBound) return { code: 'BOUND_ELSEWHERE' };
  const veto = [...new Set([...work.busy, ...facts.suspectVolumesOf(moverName)])];
  const reason = `write ${family} (${work.inWork + 1}/${g.top.width} of width) on a volume from the volume clerk`;
  return { decision: { kind: 'write', requestId: g.top.id, veto, reason, skipped: [] }, request: g.top, mounts: work.inWork };
}

/** CTA's rule: bytes or files per existing mount (+1), or, with no mount yet, the oldest request's age. */
function criteriaMet(c: MountCriteria, g: KeyGroup, mounts: number, now: number): true | { retryAt?: number } {
  const share = 1 + mounts;
  if (g.bytes / share >= c.minBytes || g.requests.length / share >= c.minFiles) return true;
  if (mounts > 0) return {};
  const at = g.oldestAt + c.maxAgeMs;
  return now >= at ? true : { retryAt: at };
}
