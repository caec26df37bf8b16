import { retryWhileUnavailable, type DbAvailability } from '../src/db/availability.ts';
import type { Logger } from '../src/logging/index.ts';
import type { MoverCatalogue } from './mover.ts';

export interface CatalogueRetryOptions {
  /** How long one catalogue call keeps retrying through a database outage before the transfer fails (UNAVAILABLE, retryable). */
  readonly limitMs: number;
  readonly log: Logger;
  readonly availability?: DbAvailability;
}

/**
 * The mover's catalogue calls, retried with backoff while the database is
 * unreachable. The mover awaits each call before it answers encp, so a
 * transfer is never reported successful before its registration is in the
 * catalogue: encp waits, and when the limit passes the transfer fails as
 * UNAVAILABLE (retryable: the library manager re-queues it; the bytes past the
 * catalogue's end-of-data are overwritten by the next write there).
 *
 * Every call must be safe to repeat, since an outage can cut the reply to a
 * statement that committed: registration is (assignPosition of the same
 * position, recordWrite with `replayOf`, activate with the same CRC are
 * no-ops); a repeated mount/read counter may count one access twice, which
 * is the price of not failing a good transfer over a statistic.
 */
export function retryingCatalogue(inner: MoverCatalogue, options: CatalogueRetryOptions): MoverCatalogue {
  const log = options.log.child({ component: 'mover-catalogue' });
  const retry = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    retryWhileUnavailable(fn, { limitMs: options.limitMs, what, log, ...(options.availability ? { availability: options.availability } : {}) });
  return {
    ...inner,
    volume: (label) => retry(`volume ${label}`, () => inner.volume(label)),
    labelled: (label, tapeBytes) => retry(`the label of ${label}`, () => inner.labelled(label, tapeBytes)),
    registerWrite: (w) => retry(`registration of ${w.bfid} at ${w.volume}:${w.fileNo}`, () => inner.registerWrite(w)),
    recordRead: (volume) => retry(`a read of ${volume}`, () => inner.recordRead(volume)),
    recordMount: (volume, drive) => retry(`the mount of ${volume}`, () => inner.recordMount(volume, drive)),
    recordDismount: (volume, slot) => retry(`the dismount of ${volume}`, () => inner.recordDismount(volume, slot)),
  };
}
