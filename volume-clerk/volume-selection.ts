import { fits, poolFor, WRITE_POOLS, type VolumeFamily, type WritePool } from './inhibits.ts';

/**
 * Next-write-volume choice (reference/enstore.md §5, VC.next_write_volume).
 * Pure: the service passes the writable candidates of the library (inhibits
 * none, not write-protected, not vetoed, locked FOR UPDATE) and applies the
 * result in the same transaction.
 */
export interface Candidate extends VolumeFamily {
  readonly label: string;
  readonly remainingBytes: number;
  readonly capacityBytes: number;
  /** Epoch ms. */
  readonly declaredAt: number;
}

export interface WriteRequest extends VolumeFamily {
  readonly size: number;
}

export interface Selection {
  /** The volume to write, its pool, and the family to give it when it came from a blank pool (null: already the family). */
  readonly chosen: { readonly label: string; readonly pool: WritePool; readonly assign: VolumeFamily | null } | null;
  /** Written volumes met on the way without room for the file: set them full. */
  readonly tooSmall: readonly string[];
  /** Nothing else fitted and a common-pool volume would have, but the storage group's quota forbids it. */
  readonly quotaBlocked: boolean;
}

/**
 * Walk the pools in Enstore's order (exact family → family pool →
 * storage-group blanks → common blanks), oldest declared first, then by label.
 * A written candidate without room for size + 5 % goes to `tooSmall`; an
 * untouched one (remaining = capacity) is only skipped, so one oversized
 * request cannot fill a whole blank pool. Vetoed labels are never returned.
 */
export function selectWriteVolume(
  candidates: readonly Candidate[],
  request: WriteRequest,
  options: { veto?: Iterable<string>; commonPoolAllowed?: boolean } = {},
): Selection {
  const veto = new Set(options.veto ?? []);
  const commonAllowed = options.commonPoolAllowed ?? true;
  const ranked = candidates
    .filter((c) => !veto.has(c.label))
    .map((c) => ({ c, pool: poolFor(c, request) }))
    .filter((x): x is { c: Candidate; pool: WritePool } => x.pool !== null)
    .sort((a, b) => WRITE_POOLS.indexOf(a.pool) - WRITE_POOLS.indexOf(b.pool) || a.c.declaredAt - b.c.declaredAt || (a.c.label < b.c.label ? -1 : a.c.label > b.c.label ? 1 : 0));
  const tooSmall: string[] = [];
  let quotaBlocked = false;
  for (const { c, pool } of ranked) {
    if (!fits(request.size, c.remainingBytes)) {
      if (c.remainingBytes < c.capacityBytes) tooSmall.push(c.label);
      continue;
    }
    if (pool === 'common' && !commonAllowed) {
      quotaBlocked = true;
      continue;
    }
    const assign = pool === 'exact' ? null : { storageGroup: request.storageGroup, fileFamily: request.fileFamily, wrapper: request.wrapper };
    return { chosen: { label: c.label, pool, assign }, tooSmall, quotaBlocked: false };
  }
  return { chosen: null, tooSmall, quotaBlocked };
}
