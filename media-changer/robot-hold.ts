/**
 * A robot waiting for its operator is held: its libraries start no new
 * mounts. The hold *is* the open ROBOT_OPERATOR alarm of the robot (one
 * source of truth, kept across restarts and visible in `tapestry alarm list`):
 * `tapestry robot reset` resolves it after checking the robot is ready again,
 * and resolving the alarm by hand lifts the hold as well.
 */
import { robotAttentionKey } from './robot-error-policy.ts';

export interface RobotHold {
  readonly robot: string;
  readonly alarmId: number;
  readonly message: string;
}

/**
 * The hold on the robot of library $1 as one JSON object (a RobotHold), or
 * NULL when it may mount; $2 is ROBOT_HOLD_KEY_PREFIX. A sub-select of the
 * library manager's pass snapshot (library-manager/pass-snapshot.ts).
 */
export const ROBOT_HOLD_JSON = `SELECT json_build_object('robot', l.robot, 'alarmId', a.id, 'message', a.message)
    FROM libraries l JOIN alarms a ON a.key = $2 || l.robot AND a.resolved_at IS NULL
   WHERE l.name = $1 LIMIT 1`;

export const ROBOT_HOLD_KEY_PREFIX = robotAttentionKey('');
