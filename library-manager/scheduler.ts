/**
 * The library manager's scheduler core (DESIGN §9, reference/enstore.md §3):
 * a pure function from (queue, movers, library state, suspects, config, now)
 * to the next step of one mover. The service calls it whenever a mover
 * reports idle or have-bound, when a request arrives (for every idle or bound
 * mover), and at a `wait` decision's `untilMs`; it then records the decision
 * (request → assigned, mover → setup, or a dismount) in one transaction.
 *
 * Enstore's rules, and where Tapestry departs from them (both switchable in
 * `SchedulerConfig`, see ENSTORE_SCHEDULER_CONFIG):
 * - keys of equal (admin, current priority) go by most queued bytes rather than age;
 * - a bound tape with nothing left for it is dismounted at once when other
 *   work is waiting for this mover, instead of idling for the dismount delay.
 */
import { Facts } from './facts.ts';
import { boundWork } from './bound.ts';
import { idleWork } from './idle.ts';
import type { Decision, Policy, SchedulerInput } from './types.ts';

/** The next step for `moverName`: read, write, dismount, or wait. */
export const decide: Policy = (input: SchedulerInput, moverName: string): Decision => {
  const facts = new Facts(input);
  const mover = facts.mover(moverName);
  if (mover === undefined) return { kind: 'wait', reason: `unknown mover ${moverName}`, skipped: [] };
  if (mover.state === 'idle' && mover.volume === undefined) return idleWork(facts, mover.name).decision;
  if (mover.state === 'have_bound' && mover.volume !== undefined) return boundWork(facts, mover, mover.volume);
  return { kind: 'wait', reason: `${moverName} is ${mover.state}${mover.volume ? ` with ${mover.volume.label}` : ''}`, skipped: [] };
};
