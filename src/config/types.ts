/**
 * The validated, normalised configuration (units already converted: bytes,
 * bytes per second, milliseconds). `load.ts` builds it from `tapestry.yaml`.
 */

export interface MediaTypeConfig {
  readonly name: string;
  readonly capacityBytes: number;
  /** Native streaming rate; null = unlimited (measures pure software overhead). */
  readonly rateBytesPerSec: number | null;
  readonly loadMs: number;
  readonly unloadMs: number;
  /** Average locate from beginning-of-tape (half the tape); a full-length locate takes twice this. */
  readonly locateAvgMs: number;
  /** Average rewind (from mid-tape); a rewind from the end takes twice this. */
  readonly rewindAvgMs: number;
  readonly blockSize: number;
}

export interface RobotConfig {
  readonly name: string;
  /** Serial device path, or `sim` for the simulated robot on a socat pty pair. */
  readonly device: string;
  readonly baudRate: number;
  readonly slots: number;
  readonly drives: number;
  readonly mailslots: number;
  /** Time the accessor takes for one move (pick + place). */
  readonly moveMs: number;
  /** How long the media changer waits for one reply before ROBOT_TIMEOUT. */
  readonly commandTimeoutMs: number;
  /** Retries of retryable robot errors before giving up. */
  readonly retries: number;
  readonly retryDelayMs: number;
}

export interface DriveConfig {
  readonly name: string;
  readonly robot: string;
  /** The drive's element number in its robot (D1, D2, …). */
  readonly element: number;
  readonly mediaType: string;
  readonly library: string;
  /**
   * `local`: `tapestry start` runs this drive's mover in its own process.
   * `remote`: the mover runs as its own process (`tapestry start --component
   * mover --name <drive>`), on the host that has the drive.
   */
  readonly mover: 'local' | 'remote';
}

export interface LibraryConfig {
  readonly name: string;
  readonly robot: string;
  readonly mediaType: string;
  /** How long an idle mounted tape stays mounted before the library manager dismounts it (Enstore: 60 s). */
  readonly dismountDelayMs: number;
  /** Cap on encp --delayed-dismount (Enstore: 600 s). */
  readonly maxDismountDelayMs: number;
  /** A mover silent this long is declared dead and its request re-queued. */
  readonly moverTimeoutMs: number;
  /**
   * CTA's mount criteria: a new tape is mounted for a queue once it holds this
   * many bytes or files, or its oldest request waited `mountMaxAgeMs`. The short
   * wait lets requests that arrive together (one encp with many files) be
   * served in tape order on one mount.
   */
  readonly mountMinBytes: number;
  readonly mountMinFiles: number;
  readonly mountMaxAgeMs: number;
  /** Automatic read-only of volumes nobody wrote for a while; null = off. */
  readonly autoReadonly: AutoReadonlyConfig | null;
  /** `faults`: drive and media error thresholds (docs/operators/faults-drive-media.md). */
  readonly faults: LibraryFaultsConfig;
}

/**
 * `libraries.<name>.faults` (Enstore's defaults): suspect volumes, the
 * NOACCESS storm, movers going offline, end of tape, re-reading written files.
 */
export interface LibraryFaultsConfig {
  /** `max_suspect_movers`: distinct movers failing on a volume that make it NOACCESS (3). */
  readonly maxSuspectMovers: number;
  /** `max_noaccess` volumes NOACCESS on one robot within `noaccess_window` (2 in 5min) make its libraries broken. */
  readonly maxNoaccess: number;
  readonly noaccessWindowMs: number;
  /** A mover goes offline with `mover_max_consecutive` (2) failures in a row and `mover_max_failures` (3) within `mover_failure_window` (1h). */
  readonly moverMaxConsecutive: number;
  readonly moverMaxFailures: number;
  readonly moverFailureWindowMs: number;
  /** `near_end_fraction`: a write error with less than this fraction of the capacity left marks the volume full (0.02). */
  readonly nearEndFraction: number;
  /** `reread_one_in`: re-read 1 in N written files before reporting success (0 = off). */
  readonly rereadOneIn: number;
}

/** Enstore's values: what `libraries.<name>.faults` holds when a key is left out. */
export const DEFAULT_LIBRARY_FAULTS: LibraryFaultsConfig = {
  maxSuspectMovers: 3,
  maxNoaccess: 2,
  noaccessWindowMs: 5 * 60_000,
  moverMaxConsecutive: 2,
  moverMaxFailures: 3,
  moverFailureWindowMs: 3_600_000,
  nearEndFraction: 0.02,
  rereadOneIn: 0,
};

/**
 * `auto_readonly` of a library: every `everyMs` a background job marks
 * readonly (a system inhibit) each written volume whose newest file is older
 * than `olderThanMs`, or than its file family's own age in `families`.
 */
export interface AutoReadonlyConfig {
  readonly everyMs: number;
  readonly olderThanMs: number;
  /** file family → its own age. */
  readonly families: ReadonlyMap<string, number>;
}

export interface CartridgeConfig {
  readonly label: string;
  readonly mediaType: string;
  readonly slot: number;
  readonly robot: string;
}

export interface SimulatorConfig {
  /** Multiplies every simulated hardware delay: 0.01 runs a 16 s load in 160 ms. */
  readonly timeScale: number;
  readonly tapesDir: string;
  readonly cartridges: readonly CartridgeConfig[];
}

export interface DatabaseConfig {
  /** External server; when null, embedded Postgres is used. TAPESTRY_DATABASE_URL overrides. */
  readonly url: string | null;
  readonly embeddedDataDir: string;
  /** 0 = pick a free port (remembered in the data dir so restarts reuse it). */
  readonly embeddedPort: number;
  /** `database.outage`: riding out a database outage (docs/operators/faults-database.md). */
  readonly outage: DatabaseOutageConfig;
}

export interface DatabaseOutageConfig {
  /** How long a mover retries a catalogue call (registration) before failing the transfer as UNAVAILABLE (default 5 min). */
  readonly registrationRetryMs: number;
  /** How often the database is probed; also how soon its return is noticed (default 1 s). */
  readonly checkIntervalMs: number;
}

export interface HttpConfig {
  readonly host: string;
  readonly port: number;
}

export interface LogConfig {
  readonly level: 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** Log file (JSON lines); null = stderr only. */
  readonly file: string | null;
}

export interface TapestryConfig {
  /** Absolute path of the file this came from, or null for built-in defaults. */
  readonly source: string | null;
  readonly varDir: string;
  readonly http: HttpConfig;
  readonly database: DatabaseConfig;
  readonly log: LogConfig;
  readonly mediaTypes: ReadonlyMap<string, MediaTypeConfig>;
  readonly robots: ReadonlyMap<string, RobotConfig>;
  readonly libraries: ReadonlyMap<string, LibraryConfig>;
  readonly drives: readonly DriveConfig[];
  readonly simulator: SimulatorConfig | null;
  /** `failover`: library-manager leadership and take-over (docs/operators/faults-process.md). */
  readonly failover: FailoverConfig;
}

export interface FailoverConfig {
  /** How often a standby library manager tries for leadership, and a leader checks its lock session (default 1 s). */
  readonly electionRetryMs: number;
  /**
   * After a take-over, how long requests left at movers wait for their mover to
   * reconnect and claim them before they are re-queued; null: the library's mover_timeout.
   */
  readonly takeoverGraceMs: number | null;
}
