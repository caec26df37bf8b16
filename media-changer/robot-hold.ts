/**
 * A robot waiting for its operator is held: its libraries start no new
 * mounts. The hold *is* the open ROBOT_OPERATOR alarm of the robot (one
 * source of truth, kept across restarts and visible in `tapestry alarm list`):
 * `tapestry robot reset` resolves it after checking the robot is ready again,
 * and resolving the alarm by hand lifts the hold as well.
 */
import type { Queryable } from '../src/db/pool.ts';
import { robotAttentionKey } from './robot-error-policy.ts';

export interface RobotHold {
  readonly robot: string;
  readonly alarmId: number;
  readonly message: string;
}

/** The hold on the robot of `library`, or null when it may mount. */
export async function robotHoldForLibrary(db: Queryable, library: string): Promise<RobotHold | null> {
  const { rows } = await db.query<{ robot: string; id: number; message: string }>(
    `SELECT l.robot, a.id, a.message FROM libraries l
       JOIN alarms a ON a.key = $2 || l.robot AND a.resolved_at IS NULL
      WHERE l.name = $1`,
    [library, robotAttentionKey('')],
  );
  const r = rows[0];
  return r ? { robot: r.robot, alarmId: Number(r.id), message: r.message } : null;
}
