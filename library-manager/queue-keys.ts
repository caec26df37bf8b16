/**
 * Enstore's queue is organised by key (reference/enstore.md §3 "Queue
 * structure"): reads by volume label, writes by volume family, the keys ranked
 * by their best request. Every check an idle mover makes (volume busy, width,
 * suspect pair, fair share) is a property of the key, so walking keys in rank
 * order is the same as walking requests in priority order, with far fewer steps.
 */
import type { Facts } from './facts.ts';
import { requestKey } from './facts.ts';
import { compareIds, compareRequests, currentPriority } from './priority.ts';
import type { QueuedRequest, ReadRequest, SchedulerConfig, WriteRequest } from './types.ts';

interface GroupBase<R> {
  readonly key: string;
  readonly storageGroup: string;
  readonly requests: R[];
  /** The best request of the key in priority order. */
  top: R;
  bytes: number;
  oldestAt: number;
}

export interface ReadGroup extends GroupBase<ReadRequest> {
  readonly kind: 'read';
}

export interface WriteGroup extends GroupBase<WriteRequest> {
  readonly kind: 'write';
}

export type KeyGroup = ReadGroup | WriteGroup;

/** The queued requests grouped by key, best key first (see `SchedulerConfig.tieBreak`). */
export function rankedKeys(facts: Facts, config: SchedulerConfig): KeyGroup[] {
  const { now } = facts;
  const step = config.agingStepMs;
  const groups = new Map<string, GroupBase<QueuedRequest> & { kind: QueuedRequest['kind'] }>();
  for (const r of facts.queued) {
    const key = requestKey(r);
    // Reads and writes never share a key: a label is not a dotted family.
    const mapKey = `${r.kind}:${key}`;
    const g = groups.get(mapKey);
    if (g === undefined) {
      groups.set(mapKey, { kind: r.kind, key, storageGroup: r.storageGroup, requests: [r], top: r, bytes: r.size, oldestAt: r.queuedAt });
      continue;
    }
    g.requests.push(r);
    g.bytes += r.size;
    g.oldestAt = Math.min(g.oldestAt, r.queuedAt);
    if (compareRequests(r, g.top, now, step) < 0) g.top = r;
  }
  const ranked = [...groups.values()].map((g) => ({ g, pri: currentPriority(g.top, now, step) }));
  ranked.sort((a, b) => {
    if (a.g.top.admin !== b.g.top.admin) return a.g.top.admin ? -1 : 1;
    if (a.pri !== b.pri) return b.pri - a.pri;
    if (config.tieBreak === 'most-bytes' && a.g.bytes !== b.g.bytes) return b.g.bytes - a.g.bytes;
    if (a.g.top.queuedAt !== b.g.top.queuedAt) return a.g.top.queuedAt - b.g.top.queuedAt;
    return compareIds(a.g.top.id, b.g.top.id);
  });
  // Every request of a group has the group's kind (the map key starts with it).
  return ranked.map((x) => x.g as KeyGroup);
}

/**
 * The read to serve next on a volume whose head is at `location`: the lowest
 * file number at or after the head, else the lowest of all (wrap-around).
 * Right after a mount the head is at 0, so a volume is read in one sweep.
 * Admin reads go first when there are any.
 */
export function nextRead(reads: readonly ReadRequest[], location: number): ReadRequest | undefined {
  const pool = reads.some((r) => r.admin) ? reads.filter((r) => r.admin) : reads;
  let ahead: ReadRequest | undefined;
  let lowest: ReadRequest | undefined;
  for (const r of pool) {
    if (lowest === undefined || before(r, lowest)) lowest = r;
    if (r.fileNo >= location && (ahead === undefined || before(r, ahead))) ahead = r;
  }
  return ahead ?? lowest;
}

function before(a: ReadRequest, b: ReadRequest): boolean {
  return a.fileNo !== b.fileNo ? a.fileNo < b.fileNo : compareIds(a.id, b.id) < 0;
}
