/**
 * What Enstore's library-manager states (reference/enstore.md §3 "LM states",
 * acceptance scenario 20) do to new requests (intake, the service's job) and
 * to queued ones (dispatch, the scheduler's).
 */
import type { LibraryState, RequestKind } from './types.ts';

/** accept: queue it; reject: refuse with LIBRARY_LOCKED; drop: answer OK and forget it (Enstore's `ignore`). */
export type IntakeVerdict = 'accept' | 'reject' | 'drop';

export function intakeVerdict(state: LibraryState, kind: RequestKind): IntakeVerdict {
  switch (state) {
    case 'unlocked':
    case 'pause':
      return 'accept';
    case 'ignore':
      return 'drop';
    case 'locked':
    case 'broken':
      return 'reject';
    case 'noread':
      return kind === 'read' ? 'reject' : 'accept';
    case 'nowrite':
      return kind === 'write' ? 'reject' : 'accept';
  }
}

/** Whether queued work of this kind may be handed to a mover. */
export function dispatchAllowed(state: LibraryState, kind: RequestKind): boolean {
  switch (state) {
    // `locked` is Enstore's draining (`--start-draining`): new requests are refused
    // and nothing queued is handed out, so the drives empty as the transfers at
    // movers finish (an operator locks to service the library, not to run the
    // queue dry). Work already at a mover is never interrupted.
    case 'locked':
    case 'pause':
    case 'broken':
      return false;
    case 'noread':
      return kind === 'write';
    case 'nowrite':
      return kind === 'read';
    // `ignore` drops new requests and runs the rest.
    case 'ignore':
    case 'unlocked':
      return true;
  }
}
