/**
 * Everything a scheduling pass reads from the database, in one round trip.
 *
 * A pass runs on every queue change and every mover state report — several
 * times per file at thousands of files a day — and it used to make seven
 * queries (library state, robot hold, shelved reads, settled writes, open
 * requests, suspect pairs, volumes in drives) plus one per mover refresh. Each
 * is a round trip to PostgreSQL; together they were half of the soak's
 * database traffic. One statement built from the same SQL fragments as the
 * single-purpose functions (so there is one definition of each rule) returns
 * them all as JSON, read in one consistent snapshot.
 */
import type { Queryable } from '../src/db/pool.ts';
import { ROBOT_HOLD_JSON, ROBOT_HOLD_KEY_PREFIX, type RobotHold } from '../media-changer/robot-hold.ts';
import { LIVE_SUSPECT } from './fault-repo.ts';
import { OPEN, REQUEST_COLUMNS, SETTLE_WRITTEN_WRITES, type RequestRow } from './queue-repo.ts';
import type { LibraryState, MountedVolume, SuspectPair } from './types.ts';

/** A queued read of a volume on the shelf, with the volume's shelf rule. */
export interface ShelvedRead {
  readonly id: number;
  readonly label: string;
  readonly shelf: string | null;
  readonly policy: string;
}

export type VolumeFacts = Omit<MountedVolume, 'location'>;

export interface PassSnapshot {
  readonly libraryState: LibraryState;
  readonly robotHold: RobotHold | null;
  readonly shelvedReads: readonly ShelvedRead[];
  /** Queued writes just settled as done (their file was already active: a lost WorkDone). */
  readonly settled: readonly number[];
  /** Open requests, oldest first, without the settled ones. */
  readonly open: RequestRow[];
  readonly suspects: readonly SuspectPair[];
  /** Movers whose drive is offline or down. */
  readonly offline: ReadonlySet<string>;
  /** Facts about the volumes asked for (those in or assigned to the movers' drives). */
  readonly volumes: Map<string, VolumeFacts>;
  /** label → drive, for the library's volumes the catalogue places in a drive. */
  readonly inDrives: ReadonlyMap<string, string>;
}

/** The volume columns VolumeFacts are made from. */
const VOLUME_FACT_COLUMNS = `label, storage_group, file_family, wrapper, remaining_bytes, system_inhibit_access, system_inhibit_state,
  user_inhibit_access, user_inhibit_state, write_protected`;

interface VolumeFactRow {
  label: string; storage_group: string; file_family: string; wrapper: string; remaining_bytes: number;
  system_inhibit_access: string; system_inhibit_state: string; user_inhibit_access: string; user_inhibit_state: string; write_protected: string;
}

function volumeFacts(v: VolumeFactRow): VolumeFacts {
  const full = v.system_inhibit_state === 'full' || v.user_inhibit_state === 'full';
  const writable = v.system_inhibit_access === 'none' && v.user_inhibit_access === 'none' && v.system_inhibit_state === 'none' && v.user_inhibit_state === 'none' && v.write_protected !== 'y';
  return { label: v.label, family: `${v.storage_group}.${v.file_family}.${v.wrapper}`, storageGroup: v.storage_group, full, writable, remainingBytes: Number(v.remaining_bytes) };
}

/** Facts about `labels` (a refresh within a pass, after an assignment named a new volume). */
export async function volumeFactsOf(db: Queryable, labels: readonly string[]): Promise<Map<string, VolumeFacts>> {
  if (labels.length === 0) return new Map();
  const { rows } = await db.query<VolumeFactRow>(`SELECT ${VOLUME_FACT_COLUMNS} FROM volumes WHERE label = ANY($1::text[])`, [labels]);
  return new Map(rows.map((v) => [v.label, volumeFacts(v)]));
}

/** Movers of library $1 whose drive is offline or down: no new work. */
const OFFLINE_MOVERS = `SELECT m.name FROM movers m JOIN drives d ON d.name = m.drive WHERE m.library = $1 AND d.state IN ('offline', 'down')`;

/** The offline movers alone (a pass that finds every mover busy still keeps them current for reports). */
export async function offlineMovers(db: Queryable, library: string): Promise<Set<string>> {
  const { rows } = await db.query<{ name: string }>(OFFLINE_MOVERS, [library]);
  return new Set(rows.map((r) => r.name));
}

// $1 library, $2 the robot-hold alarm key prefix, $3 the volume labels wanted.
const SNAPSHOT = `WITH settled AS (${SETTLE_WRITTEN_WRITES})
SELECT
  (SELECT state FROM libraries WHERE name = $1) AS library_state,
  (${ROBOT_HOLD_JSON}) AS robot_hold,
  (SELECT coalesce(json_agg(json_build_object('id', r.id, 'label', v.label, 'shelf', v.location_ref, 'policy', v.shelf_policy)), '[]')
     FROM requests r JOIN volumes v ON v.label = r.volume_label
    WHERE r.library = $1 AND r.state = 'queued' AND r.kind = 'read' AND v.location_kind = 'shelf') AS shelved_reads,
  (SELECT coalesce(json_agg(id), '[]') FROM settled) AS settled,
  (SELECT coalesce(json_agg(q ORDER BY q."queuedAt", q.id), '[]')
     FROM (SELECT ${REQUEST_COLUMNS} FROM requests WHERE library = $1 AND ${OPEN} AND id NOT IN (SELECT id FROM settled)) q) AS open,
  (SELECT coalesce(json_agg(json_build_object('volume', s.volume_label, 'mover', s.mover) ORDER BY s.volume_label, s.mover), '[]')
     FROM suspect_pairs s WHERE s.library = $1 AND ${LIVE_SUSPECT}) AS suspects,
  (SELECT coalesce(json_agg(o.name), '[]') FROM (${OFFLINE_MOVERS}) o) AS offline,
  (SELECT coalesce(json_agg(v), '[]') FROM (SELECT ${VOLUME_FACT_COLUMNS} FROM volumes WHERE label = ANY($3::text[])) v) AS volumes,
  (SELECT coalesce(json_object_agg(label, location_ref), '{}') FROM volumes
    WHERE library = $1 AND location_kind = 'drive' AND location_ref IS NOT NULL) AS in_drives`;

interface SnapshotRow {
  library_state: LibraryState | null;
  robot_hold: RobotHold | null;
  shelved_reads: ShelvedRead[];
  settled: number[];
  open: (Omit<RequestRow, 'queuedAt' | 'assignedAt' | 'startedAt' | 'finishedAt'> & Record<'queuedAt' | 'assignedAt' | 'startedAt' | 'finishedAt', string | null>)[];
  suspects: SuspectPair[];
  offline: string[];
  volumes: VolumeFactRow[];
  in_drives: Record<string, string>;
}

const date = (s: string | null): Date | null => (s === null ? null : new Date(s));

/** Read the snapshot, settling lost-WorkDone writes on the way (the one write it makes). */
export async function passSnapshot(db: Queryable, library: string, labels: readonly string[]): Promise<PassSnapshot> {
  // Prepared like every parameterised statement (src/db/pool.ts): planning this one costs more than running it.
  const { rows: [row] } = await db.query<SnapshotRow>(SNAPSHOT, [library, ROBOT_HOLD_KEY_PREFIX, labels]);
  const r = row!;
  return {
    // A library the configuration no longer has takes no work.
    libraryState: r.library_state ?? 'locked',
    robotHold: r.robot_hold,
    shelvedReads: r.shelved_reads,
    settled: r.settled,
    // JSON has no timestamps: the four dates come back as ISO strings.
    open: r.open.map((q) => ({ ...q, queuedAt: date(q.queuedAt)!, assignedAt: date(q.assignedAt), startedAt: date(q.startedAt), finishedAt: date(q.finishedAt) })),
    suspects: r.suspects,
    offline: new Set(r.offline),
    volumes: new Map(r.volumes.map((v) => [v.label, volumeFacts(v)])),
    inDrives: new Map(Object.entries(r.in_drives)),
  };
}
