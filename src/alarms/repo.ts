import type { Queryable } from '../db/pool.ts';
import { iso, isoOrNull } from '../db/rows.ts';

export type AlarmSeverity = 'critical' | 'error' | 'warning' | 'info';
/** Worst first: a repeat of an alarm keeps the worst severity seen (see raiseAlarm). */
export const ALARM_SEVERITIES: readonly AlarmSeverity[] = ['critical', 'error', 'warning', 'info'];

export interface Alarm {
  readonly id: number;
  /** Deduplication key: while an alarm with this key is open, raising it again bumps `count`. */
  readonly key: string;
  readonly severity: AlarmSeverity;
  /** A catalogue code (src/errors/codes.ts) or another stable string. */
  readonly code: string;
  readonly message: string;
  readonly detail: Record<string, unknown>;
  readonly count: number;
  readonly firstAt: string;
  readonly lastAt: string;
  readonly resolvedAt: string | null;
  readonly resolvedBy: string | null;
}

/**
 * The deduplication key of an alarm: its cause, as the kind of problem and the
 * subject it is about (`NOVOLUME:lto9:sg.ff.cpio_odc`, `CRC_MISMATCH:<bfid>`).
 * Every raiser of one cause must build the same key, or an operator sees one
 * problem as several alarms.
 */
export function alarmKey(kind: string, ...subject: readonly (string | number)[]): string {
  return [kind, ...subject].join(':');
}

export interface RaiseAlarm {
  readonly key: string;
  readonly severity: AlarmSeverity;
  readonly code: string;
  readonly message: string;
  readonly detail?: Record<string, unknown>;
  /** When it happened; the database's clock when omitted. */
  readonly at?: Date;
}

interface AlarmRow {
  id: number;
  key: string;
  severity: AlarmSeverity;
  code: string;
  message: string;
  detail: Record<string, unknown>;
  count: number;
  first_at: Date;
  last_at: Date;
  resolved_at: Date | null;
  resolved_by: string | null;
}

function toAlarm(r: AlarmRow): Alarm {
  return {
    id: r.id,
    key: r.key,
    severity: r.severity,
    code: r.code,
    message: r.message,
    detail: r.detail,
    count: r.count,
    firstAt: iso(r.first_at),
    lastAt: iso(r.last_at),
    resolvedAt: isoOrNull(r.resolved_at),
    resolvedBy: r.resolved_by,
  };
}

/**
 * Raise an alarm, or bump the open one with the same key (count + 1, last_at,
 * latest message/detail, the worse of the two severities: a problem that was
 * critical once stays critical until resolved). One statement: the partial
 * unique index on open keys makes concurrent raisers meet in the ON CONFLICT branch.
 */
export async function raiseAlarm(db: Queryable, alarm: RaiseAlarm): Promise<Alarm> {
  const { rows } = await db.query<AlarmRow>(
    `INSERT INTO alarms (key, severity, code, message, detail, first_at, last_at)
     VALUES ($1, $2, $3, $4, $5, coalesce($6, now()), coalesce($6, now()))
     ON CONFLICT (key) WHERE resolved_at IS NULL DO UPDATE SET
       count = alarms.count + 1, last_at = greatest(alarms.last_at, EXCLUDED.last_at),
       first_at = least(alarms.first_at, EXCLUDED.first_at),
       severity = CASE WHEN array_position($7::text[], EXCLUDED.severity) < array_position($7::text[], alarms.severity)
                       THEN EXCLUDED.severity ELSE alarms.severity END,
       code = EXCLUDED.code, message = EXCLUDED.message, detail = EXCLUDED.detail
     RETURNING *`,
    [alarm.key, alarm.severity, alarm.code, alarm.message, JSON.stringify(alarm.detail ?? {}), alarm.at ?? null, ALARM_SEVERITIES],
  );
  return toAlarm(rows[0]!);
}

/** Open alarms (or all with `all`), most recent first; `severity`: that severity or worse. */
export async function listAlarms(db: Queryable, options: { all?: boolean; limit?: number; severity?: AlarmSeverity } = {}): Promise<Alarm[]> {
  const worst = ALARM_SEVERITIES.slice(0, ALARM_SEVERITIES.indexOf(options.severity ?? 'info') + 1);
  const { rows } = await db.query<AlarmRow>(
    `SELECT * FROM alarms WHERE ($1::boolean OR resolved_at IS NULL) AND severity = ANY($3::text[]) ORDER BY last_at DESC, id DESC LIMIT $2`,
    [options.all ?? false, options.limit ?? 1000, worst],
  );
  return rows.map(toAlarm);
}

export async function getAlarm(db: Queryable, id: number): Promise<Alarm | null> {
  const { rows } = await db.query<AlarmRow>('SELECT * FROM alarms WHERE id = $1', [id]);
  return rows[0] ? toAlarm(rows[0]) : null;
}

/** Resolve an open alarm; null when there is no such open alarm. */
/** Resolve the open alarm of a cause (its key), if there is one: the condition is gone. */
export async function resolveAlarmByKey(db: Queryable, key: string, by: string, at?: Date): Promise<Alarm | null> {
  const { rows } = await db.query<AlarmRow>(
    `UPDATE alarms SET resolved_at = coalesce($3, now()), resolved_by = $2 WHERE key = $1 AND resolved_at IS NULL RETURNING *`,
    [key, by, at ?? null],
  );
  return rows[0] ? toAlarm(rows[0]) : null;
}

export async function resolveAlarm(db: Queryable, id: number, by: string, at?: Date): Promise<Alarm | null> {
  const { rows } = await db.query<AlarmRow>(
    `UPDATE alarms SET resolved_at = coalesce($3, now()), resolved_by = $2 WHERE id = $1 AND resolved_at IS NULL RETURNING *`,
    [id, by, at ?? null],
  );
  return rows[0] ? toAlarm(rows[0]) : null;
}
