/**
 * What Tapestry does with each robot failure (issue 5 item 2): a pure policy
 * over the one table of robot codes (src/hardware/robot-protocol.ts, after
 * CTA's cta-smc exit codes). No I/O: the media changer service, the library
 * manager and the tests all ask this file, so the classes are decided once.
 *
 * Who does what:
 * - the serial media changer retries `transient` failures itself (the table's
 *   delay factor × retry_delay; timeouts too), then gives up with a retryable code;
 * - the media changer service forces a dismount first (`force-demount`), and
 *   raises the alarms (`alarmFor`);
 * - the library manager re-queues (`lmAction`): a retryable code costs the
 *   request an attempt; `drive-down` and `hold` do not (the robot failed, not
 *   the request), and `hold` keeps the robot's libraries from mounting
 *   (`needsRobot`) until the operator resets the robot.
 */
import type { ErrorCode } from '../src/errors/index.ts';
import { robotErrorByCode } from '../src/hardware/robot-protocol.ts';

export type RobotFailureClass =
  /** Retried after a delay by the media changer; re-queued by the library manager once its retries are spent. */
  | 'transient'
  /** The drive still holds (or has threaded) a cartridge: unload and dismount it, then retry the move once. */
  | 'force-demount'
  /** The robot says the drive is broken: mark it down, try another drive. */
  | 'drive-down'
  /** A human must act (jam, door open): alarm, stop mounting on this robot, keep the queue. */
  | 'operator'
  /** The request disagrees with the robot (empty source, full destination, no such element): never retried. */
  | 'location'
  /** Not a robot failure (or an unknown one): the catalogue's retryable flag decides. */
  | 'other';

/** The subset of a TapestryError this policy looks at. */
export interface FailureLike {
  readonly code: string;
  readonly context?: Readonly<Record<string, unknown>>;
}

/** Also NO_SUCH_VOLUME: the media changer's own finding that the robot does not hold the cartridge. */
const LOCATION_CODES: ReadonlySet<string> = new Set<ErrorCode>(['ELEMENT_EMPTY', 'ELEMENT_FULL', 'NO_SUCH_ELEMENT', 'NO_SUCH_VOLUME']);

/** Classify a failed robot command (or a mount/dismount that failed because of one). */
export function classifyRobotFailure(err: FailureLike): RobotFailureClass {
  const robotCode = err.context?.robotCode;
  const spec = typeof robotCode === 'number' ? robotErrorByCode(robotCode) : undefined;
  if (spec !== undefined) {
    if (spec.retryable) return 'transient';
    switch (spec.name) {
      case 'FORCE_DEMOUNT': return 'force-demount';
      case 'DRIVE_DOWN': return 'drive-down';
      case 'OPERATOR':
      case 'JAMMED': return 'operator';
      case 'EMPTY':
      case 'FULL':
      case 'NO_ELEMENT': return 'location';
      default: return 'other'; // SYNTAX: our own bug, not the robot's; MALFORMED is not retried
    }
  }
  // Codes without a robot reply behind them: the media changer's own checks and the line.
  switch (err.code) {
    case 'ROBOT_TIMEOUT':
    case 'ROBOT_BUSY':
    case 'ROBOT_ERROR': return 'transient';
    case 'ROBOT_FORCE_DEMOUNT': return 'force-demount';
    case 'DRIVE_DOWN': return 'drive-down';
    case 'ROBOT_OPERATOR': return 'operator';
    default: return LOCATION_CODES.has(err.code) ? 'location' : 'other';
  }
}

/** What the library manager does with a mover's failed request, by its error code. */
export type LmRobotAction =
  /** Mark the mover's drive down (no more work for it), re-queue without using up an attempt. */
  | 'drive-down'
  /** Re-queue without using up an attempt; the robot is held until an operator resets it. */
  | 'hold'
  /** The usual rule: retryable codes are re-queued until max_retry, others fail. */
  | 'default';

export function lmAction(code: string | null): LmRobotAction {
  if (code === 'DRIVE_DOWN') return 'drive-down';
  if (code === 'ROBOT_OPERATOR') return 'hold';
  return 'default';
}

// --- alarms -----------------------------------------------------------------------------

/** Alarm keys: one open alarm per cause (src/alarms `alarmKey` convention). */
export const robotAttentionKey = (robot: string): string => `ROBOT_OPERATOR:${robot}`;
export const driveDownKey = (drive: string): string => `DRIVE_DOWN:${drive}`;
export const robotLocationKey = (volume: string): string => `ROBOT_LOCATION:${volume}`;

export interface RobotAlarm {
  readonly key: string;
  readonly severity: 'critical' | 'error' | 'warning';
  readonly code: string;
  readonly message: string;
  readonly detail: Record<string, unknown>;
}

/**
 * The alarm a failed mount or dismount raises, or null (transient failures
 * are retried and only logged; a force-demount is handled in place).
 */
export function alarmFor(
  err: FailureLike & { readonly message: string },
  at: { readonly robot: string; readonly drive: string; readonly volume: string; readonly op: 'mount' | 'dismount' },
): RobotAlarm | null {
  const text = typeof err.context?.robotText === 'string' && err.context.robotText !== '' ? err.context.robotText : err.message;
  const detail = { robot: at.robot, drive: at.drive, volume: at.volume, op: at.op, code: err.code, robotCode: err.context?.robotCode ?? null, robotText: text };
  switch (classifyRobotFailure(err)) {
    case 'operator':
      return {
        key: robotAttentionKey(at.robot),
        severity: 'critical',
        code: 'ROBOT_OPERATOR',
        message: `robot ${at.robot} needs an operator: ${text} (during ${at.op} of ${at.volume} on ${at.drive}); no new mounts on its libraries until \`tapestry robot reset ${at.robot}\``,
        detail,
      };
    case 'drive-down':
      return {
        key: driveDownKey(at.drive),
        severity: 'error',
        code: 'DRIVE_DOWN',
        message: `robot ${at.robot} reports drive ${at.drive} down: ${text} (during ${at.op} of ${at.volume}); the drive gets no more work until \`tapestry mover online\``,
        detail,
      };
    case 'location':
      return {
        key: robotLocationKey(at.volume),
        severity: 'error',
        code: err.code,
        message: `robot ${at.robot} disagrees with the catalogue about ${at.volume}: ${text} (during ${at.op} on ${at.drive}); check \`tapestry robot inventory\` against \`tapestry volume info ${at.volume}\``,
        detail,
      };
    default:
      return null;
  }
}

// --- holding a robot's libraries ---------------------------------------------------------------

/**
 * While a robot waits for its operator, may this scheduling decision go
 * ahead? Only work on the tape already in the mover's drive: anything that
 * moves a cartridge (a mount of another volume, a dismount) waits.
 */
export function needsRobot(
  decision: { readonly kind: 'read' | 'write' | 'dismount' | 'wait'; readonly volumeLabel?: string | undefined },
  mounted: string | null,
): boolean {
  switch (decision.kind) {
    case 'wait': return false;
    case 'dismount': return true;
    default: return decision.volumeLabel === undefined || decision.volumeLabel !== mounted;
  }
}

