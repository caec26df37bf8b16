/**
 * The library manager's scheduler core speaks these types (DESIGN §9). They are
 * plain data decoded at the boundary: the service reads the `requests`,
 * `movers` and `volumes` rows, builds a `SchedulerInput`, and asks for one
 * mover's next step whenever that mover reports idle or have-bound (Enstore's
 * mover-driven loop, reference/enstore.md §3). Nothing here does I/O or reads a
 * clock: `now` is an input.
 */

export type RequestKind = 'read' | 'write';

/** The open states of a `requests` row; done/failed/cancelled rows are not passed in. */
export type OpenRequestState = 'queued' | 'assigned' | 'active';

interface RequestBase {
  /** `requests.id` (bigserial, as node-postgres returns it: a decimal string). */
  readonly id: string;
  readonly uniqueId: string;
  readonly state: OpenRequestState;
  /** Base priority (Enstore's basepri); aging is added by the core. */
  readonly priority: number;
  /** Admin queue: every admin request goes before every regular one. */
  readonly admin: boolean;
  /** Epoch ms; drives aging and the age order within a priority. */
  readonly queuedAt: number;
  /** Bytes to move. */
  readonly size: number;
  /** For reads, the storage group of the volume; for writes, of the family. Fair share counts it. */
  readonly storageGroup: string;
  /** The mover the request is assigned to or running on (state assigned/active). */
  readonly mover?: string;
  /** encp `--delayed-dismount`: how long the tape may stay mounted after this request; capped by the config. */
  readonly dismountDelayMs?: number;
}

export interface ReadRequest extends RequestBase {
  readonly kind: 'read';
  /** The queue key of a read. */
  readonly volumeLabel: string;
  /** Position of the file on the tape (file 0 is VOL1). */
  readonly fileNo: number;
}

export interface WriteRequest extends RequestBase {
  readonly kind: 'write';
  readonly fileFamily: string;
  readonly wrapper: string;
  /** file_family_width: most write-enabled volumes of the family at movers at once. */
  readonly width: number;
}

export type QueuedRequest = ReadRequest | WriteRequest;

/** Enstore's mover states, lower-cased (the `movers.state` column). */
export type MoverState =
  | 'idle'
  | 'setup'
  | 'mount_wait'
  | 'seek'
  | 'active'
  | 'have_bound'
  | 'dismount_wait'
  | 'draining'
  | 'offline'
  | 'error';

/** What the core needs to know about a volume that is in (or on its way to) a drive. */
export interface MountedVolume {
  readonly label: string;
  /** The volume family `storage_group.file_family.wrapper` (see `volumeFamily`). */
  readonly family: string;
  readonly storageGroup: string;
  /** system/user inhibit state `full`: a read of a full volume does not use family width. */
  readonly full: boolean;
  /** Writable: no NOACCESS/NOTALLOWED/readonly/migration inhibit and not write-protected. */
  readonly writable: boolean;
  /** Free bytes; when given, a write onto this bound volume must fit (size × 1.05, as the volume clerk checks). */
  readonly remainingBytes?: number;
  /** The file number under the head: after reading file N the mover reports N + 1; 0 right after a mount. */
  readonly location: number;
}

export interface MoverView {
  readonly name: string;
  readonly state: MoverState;
  /** The volume in its drive or being mounted for it; it makes the volume busy (VOL_BUSY) for others. */
  readonly volume?: MountedVolume;
  /** When the mover last finished work and became have_bound (epoch ms); the dismount delay runs from here. */
  readonly boundSince?: number;
  /** What the mover did last on this volume: chooses writes-first or reads-first reuse. */
  readonly lastKind?: RequestKind;
  /** The delayed dismount asked for by the last request it served (encp `--delayed-dismount`). */
  readonly dismountDelayMs?: number;
}

/** Enstore's library-manager states (the `libraries.state` column). */
export type LibraryState = 'unlocked' | 'locked' | 'ignore' | 'pause' | 'noread' | 'nowrite' | 'broken';

/** A (volume, mover) pair that failed once and must never be paired again. */
export interface SuspectPair {
  readonly volume: string;
  readonly mover: string;
}

/** CERN CTA's mount rule (reference/peers.md §1): a new mount for a queue needs any one of these. */
export interface MountCriteria {
  /** Queued bytes per existing mount of the queue (+1). CTA's default is 500 GB. */
  readonly minBytes: number;
  /** Queued files per existing mount (+1). CTA's default is 10,000. */
  readonly minFiles: number;
  /** With no mount yet, the oldest request waited this long. */
  readonly maxAgeMs: number;
}

export interface SchedulerConfig {
  /** One priority step per this much waiting (Enstore: 30 min). */
  readonly agingStepMs: number;
  /** Keep an idle bound tape this long before dismounting (Enstore `dismount_delay`, 60 s). */
  readonly dismountDelayMs: number;
  /** Cap on a request's delayed dismount (Enstore `max_dismount_delay`, 600 s). */
  readonly maxDismountDelayMs: number;
  /** Fair share: drives a storage group may hold while another group has work. Missing = no limit. */
  readonly storageGroupLimits: Readonly<Record<string, number>>;
  /** Optional CTA mount criteria for mounting a new tape; admin requests bypass them. */
  readonly mountCriteria?: MountCriteria;
  /**
   * Which key an idle mover takes among those of the same (admin, current priority):
   * `oldest` is Enstore's order (by age); `most-bytes` takes the volume or family with the most
   * queued bytes, which keeps the drives busy to the end of a batch (longest job first).
   * Aging still lifts any request that waits, so neither starves.
   */
  readonly tieBreak: 'oldest' | 'most-bytes';
  /**
   * A bound tape with no more work for itself is dismounted at once when other queued work
   * would be given to this mover if it were idle; otherwise it waits out the dismount delay.
   * Enstore always waits the delay.
   */
  readonly dismountWhenWorkWaits: boolean;
}

export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  agingStepMs: 30 * 60_000,
  dismountDelayMs: 60_000,
  maxDismountDelayMs: 600_000,
  storageGroupLimits: {},
  tieBreak: 'most-bytes',
  dismountWhenWorkWaits: true,
};

/** Enstore's own choices where Tapestry departs from them (for the benchmark's comparison). */
export const ENSTORE_SCHEDULER_CONFIG: SchedulerConfig = {
  ...DEFAULT_SCHEDULER_CONFIG,
  tieBreak: 'oldest',
  dismountWhenWorkWaits: false,
};

export interface SchedulerInput {
  /** Epoch ms. */
  readonly now: number;
  readonly libraryState: LibraryState;
  /** Open requests of this library: queued, and assigned/active (they hold width and drives). */
  readonly requests: readonly QueuedRequest[];
  /** Every mover of this library, the asking one included. */
  readonly movers: readonly MoverView[];
  readonly suspects: readonly SuspectPair[];
  readonly config: SchedulerConfig;
}

/** Why a queue key was passed over (shown in queue listings and logs). */
export type SkipCode =
  | 'VOL_BUSY' // the volume is at another mover, it will be served there
  | 'VOLS_IN_WORK' // the family already has `width` write-enabled volumes at movers
  | 'BOUND_ELSEWHERE' // a have-bound mover holds a writable volume of the family: left for it
  | 'SUSPECT' // this (volume, mover) pair failed before
  | 'FAIR_SHARE' // the storage group holds its drive limit while another group has work
  | 'MOUNT_CRITERIA' // not enough bytes/files/age for a new mount yet
  | 'LIBRARY_STATE'; // noread / nowrite

export interface Skip {
  /** The queue key: volume label (reads) or volume family (writes). */
  readonly key: string;
  readonly code: SkipCode;
}

interface DecisionBase {
  /** One line for the log (`lm.decision` events). */
  readonly reason: string;
  /** Keys looked at and passed over before this decision, in walk order. */
  readonly skipped: readonly Skip[];
}

export type Decision =
  | (DecisionBase & { readonly kind: 'read'; readonly requestId: string; readonly volumeLabel: string })
  | (DecisionBase & {
      readonly kind: 'write';
      readonly requestId: string;
      /** Set when the bound volume is reused; otherwise the service asks the volume clerk. */
      readonly volumeLabel?: string;
      /** Volumes the volume clerk must not return: family volumes at movers, and suspects of this mover. */
      readonly veto: readonly string[];
    })
  | (DecisionBase & { readonly kind: 'dismount' })
  /**
   * Nothing now. Idle mover: stay idle. Bound mover: keep the tape. Ask again at `untilMs`
   * (a dismount deadline, or when a mount criterion's age is reached) or when anything
   * changes (a request arrives, a mover frees a volume, the library state changes).
   */
  | (DecisionBase & { readonly kind: 'wait'; readonly untilMs?: number });

/** The decisions that hand a request to the mover. */
export type Dispatch = Extract<Decision, { kind: 'read' | 'write' }>;

/** A scheduling policy: the next step for the named mover. */
export type Policy = (input: SchedulerInput, mover: string) => Decision;
