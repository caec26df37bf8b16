import path from 'node:path';
import type {
  AutoReadonlyConfig, CartridgeConfig, DriveConfig, LibraryConfig, LibraryFaultsConfig, LogConfig, MediaTypeConfig, RobotConfig, SimulatorConfig, TapestryConfig,
} from './types.ts';
import { DEFAULT_LIBRARY_FAULTS } from './types.ts';
import { expandLabelRange, parseDuration, parseIntRange, parseRate, parseSize } from './units.ts';

/** One problem in a config file, located by its key path (`drives[2].element`). */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

type Obj = Record<string, unknown>;

/** Labels a volume may have: 6–8 characters of A–Z and 0–9 (barcode + media suffix, e.g. TS0001L9). */
export const LABEL_PATTERN = /^[A-Z0-9]{6,8}$/;
const NAME_PATTERN = /^[A-Za-z0-9][-A-Za-z0-9_]*$/;
/** File family names, as the namespace tags allow them. */
const FAMILY_PATTERN = /^[-A-Za-z0-9_]{1,64}$/;

/**
 * Walks the parsed YAML once, collecting every problem instead of stopping at
 * the first, so `tapestry config check` can list them all.
 */
class Reader {
  readonly problems: ConfigProblem[] = [];

  problem(at: string, message: string): void {
    this.problems.push({ path: at || '(top level)', message });
  }

  object(value: unknown, at: string, allowed: readonly string[]): Obj | null {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.problem(at, `must be a mapping, got ${describe(value)}`);
      return null;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.problem(join(at, key), `unknown key (allowed: ${allowed.join(', ')})`);
    }
    return value as Obj;
  }

  field<T>(obj: Obj, key: string, at: string, parse: (v: unknown) => T | null, what: string, fallback?: T): T | null {
    const value = obj[key];
    if (value === undefined || value === null) {
      if (fallback !== undefined) return fallback;
      this.problem(join(at, key), `is required (${what})`);
      return null;
    }
    const parsed = parse(value);
    if (parsed === null) this.problem(join(at, key), `must be ${what}, got ${describe(value)}`);
    return parsed;
  }
}

function join(at: string, key: string | number): string {
  return typeof key === 'number' ? `${at}[${key}]` : at ? `${at}.${key}` : key;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);
const name = (v: unknown): string | null => (typeof v === 'string' && NAME_PATTERN.test(v) ? v : null);
const posInt = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null);
const nonNegInt = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null);
const port = (v: unknown): number | null => (v === 'auto' ? 0 : typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 65536 ? v : null);
const scale = (v: unknown): number | null => (typeof v === 'number' && v >= 0 && Number.isFinite(v) ? v : null);
const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'] as const;
const logLevel = (v: unknown): LogConfig['level'] | null => (LOG_LEVELS.includes(v as LogConfig['level']) ? (v as LogConfig['level']) : null);

export interface ValidateResult {
  readonly config: TapestryConfig | null;
  readonly problems: readonly ConfigProblem[];
}

/**
 * Validate a parsed config document. `baseDir` resolves relative paths;
 * `source` is recorded in the result. Returns every problem found.
 */
export function validateConfig(doc: unknown, baseDir: string, source: string | null): ValidateResult {
  const r = new Reader();
  const top = r.object(doc ?? {}, '', ['var_dir', 'http', 'database', 'log', 'media_types', 'robots', 'libraries', 'drives', 'simulator', 'failover']);
  if (!top) return { config: null, problems: r.problems };
  const abs = (p: string): string => path.resolve(baseDir, p);

  const varDir = abs(r.field(top, 'var_dir', '', str, 'a directory path', 'var') ?? 'var');

  const httpObj = r.object(top.http ?? {}, 'http', ['host', 'port']);
  const http = {
    host: (httpObj && r.field(httpObj, 'host', 'http', str, 'a host name or address', '127.0.0.1')) ?? '127.0.0.1',
    port: (httpObj && r.field(httpObj, 'port', 'http', port, 'a TCP port number', 8420)) ?? 8420,
  };

  const dbObj = r.object(top.database ?? {}, 'database', ['url', 'embedded', 'outage']);
  const embObj = dbObj ? r.object(dbObj.embedded ?? {}, 'database.embedded', ['data_dir', 'port']) : null;
  const outObj = dbObj ? r.object(dbObj.outage ?? {}, 'database.outage', ['registration_retry', 'check_interval']) : null;
  const database = {
    url: dbObj?.url === undefined ? null : r.field(dbObj, 'url', 'database', str, 'a postgres:// URL'),
    embeddedDataDir: abs((embObj && r.field(embObj, 'data_dir', 'database.embedded', str, 'a directory path', path.join(varDir, 'pg'))) ?? path.join(varDir, 'pg')),
    embeddedPort: (embObj && r.field(embObj, 'port', 'database.embedded', port, '"auto" or a TCP port number', 0)) ?? 0,
    outage: {
      registrationRetryMs: (outObj && r.field(outObj, 'registration_retry', 'database.outage', parseDuration, 'a duration such as 5min', 300_000)) ?? 300_000,
      checkIntervalMs: (outObj && r.field(outObj, 'check_interval', 'database.outage', parseDuration, 'a duration such as 1s', 1_000)) ?? 1_000,
    },
  };
  if (database.outage.checkIntervalMs < 100) r.problem('database.outage.check_interval', 'must be at least 100ms');

  const logObj = r.object(top.log ?? {}, 'log', ['level', 'file']);
  const logFile = logObj?.file === undefined || logObj.file === null ? null : r.field(logObj, 'file', 'log', str, 'a file path');
  const log: LogConfig = {
    level: (logObj && r.field(logObj, 'level', 'log', logLevel, LOG_LEVELS.join(' | '), 'info')) ?? 'info',
    file: logFile ? abs(logFile) : null,
  };

  const mediaTypes = readMediaTypes(r, top.media_types);
  const robots = readRobots(r, top.robots);
  const libraries = readLibraries(r, top.libraries, robots, mediaTypes);
  const drives = readDrives(r, top.drives, robots, libraries);
  const simulator = top.simulator === undefined ? null : readSimulator(r, top.simulator, abs, robots, mediaTypes);

  for (const robot of robots.values()) {
    if (robot.device === 'sim' && simulator === null) r.problem(`robots.${robot.name}.device`, 'is "sim" but there is no simulator section');
  }

  const foObj = r.object(top.failover ?? {}, 'failover', ['election_retry', 'takeover_grace']);
  const failover = {
    electionRetryMs: (foObj && r.field(foObj, 'election_retry', 'failover', parseDuration, 'a duration such as 1s', 1_000)) ?? 1_000,
    takeoverGraceMs: foObj?.takeover_grace === undefined ? null : r.field(foObj, 'takeover_grace', 'failover', parseDuration, 'a duration such as 30s'),
  };
  if (failover.electionRetryMs < 100) r.problem('failover.election_retry', 'must be at least 100ms');

  if (r.problems.length > 0) return { config: null, problems: r.problems };
  return {
    config: { source, varDir, http, database, log, mediaTypes, robots, libraries, drives, simulator, failover },
    problems: [],
  };
}

/**
 * A mapping of named entries. Entries with problems are left out of the map but
 * their names go into `declared`, so a reference to them is not also reported
 * as unknown.
 */
type Named<T> = Map<string, T> & { declared?: Set<string> };

function known<T>(map: Named<T>, name: string): boolean {
  return map.has(name) || (map.declared?.has(name) ?? false);
}

function readNamedMap<T>(r: Reader, value: unknown, at: string, read: (name: string, obj: Obj, at: string) => T | null): Named<T> {
  const out: Named<T> = new Map<string, T>();
  out.declared = new Set(typeof value === 'object' && value !== null ? Object.keys(value) : []);
  if (value === undefined) return out;
  const obj = r.object(value, at, Object.keys(typeof value === 'object' && value !== null ? value : {}));
  if (!obj) return out;
  for (const [key, entry] of Object.entries(obj)) {
    const entryAt = join(at, key);
    if (!NAME_PATTERN.test(key)) r.problem(entryAt, 'name must start with a letter or digit and use only letters, digits, - and _');
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      r.problem(entryAt, `must be a mapping, got ${describe(entry)}`);
      continue;
    }
    const item = read(key, entry as Obj, entryAt);
    if (item !== null) out.set(key, item);
  }
  return out;
}

function readMediaTypes(r: Reader, value: unknown): Named<MediaTypeConfig> {
  const keys = ['capacity', 'rate', 'load', 'unload', 'locate_avg', 'rewind_avg', 'block_size'];
  return readNamedMap(r, value, 'media_types', (mtName, _o, at) => {
    const o = r.object(_o, at, keys)!;
    const capacity = r.field(o, 'capacity', at, (v) => { const s = parseSize(v); return s && s > 0 ? s : null; }, 'a size such as 18TB');
    const rate = r.field(o, 'rate', at, parseRate, 'a rate such as 400MB/s, or unlimited');
    const loadMs = r.field(o, 'load', at, parseDuration, 'a duration such as 16s');
    const unloadMs = r.field(o, 'unload', at, parseDuration, 'a duration such as 56s');
    const locateAvgMs = r.field(o, 'locate_avg', at, parseDuration, 'a duration such as 65s');
    const rewindAvgMs = r.field(o, 'rewind_avg', at, parseDuration, 'a duration such as 62s');
    const blockSize = r.field(o, 'block_size', at, (v) => { const s = parseSize(v); return s && s >= 512 && s <= 16 * 2 ** 20 ? s : null; }, 'a block size between 512B and 16MiB', 256 * 1024);
    if (capacity === null || rate === null || loadMs === null || unloadMs === null || locateAvgMs === null || rewindAvgMs === null || blockSize === null) return null;
    return { name: mtName, capacityBytes: capacity, rateBytesPerSec: rate === 'unlimited' ? null : rate, loadMs, unloadMs, locateAvgMs, rewindAvgMs, blockSize };
  });
}

function readRobots(r: Reader, value: unknown): Named<RobotConfig> {
  const keys = ['device', 'baud', 'slots', 'drives', 'mailslots', 'move', 'command_timeout', 'retries', 'retry_delay'];
  return readNamedMap(r, value, 'robots', (robotName, _o, at) => {
    const o = r.object(_o, at, keys)!;
    const device = r.field(o, 'device', at, str, 'a serial device path or "sim"');
    const baudRate = r.field(o, 'baud', at, posInt, 'a baud rate', 9600);
    const slots = r.field(o, 'slots', at, posInt, 'a number of slots > 0');
    const drives = r.field(o, 'drives', at, posInt, 'a number of drive bays > 0');
    const mailslots = r.field(o, 'mailslots', at, nonNegInt, 'a number of mail slots >= 0', 0);
    const moveMs = r.field(o, 'move', at, parseDuration, 'a duration such as 5s', 5000);
    const commandTimeoutMs = r.field(o, 'command_timeout', at, parseDuration, 'a duration such as 15min', 900_000);
    const retries = r.field(o, 'retries', at, nonNegInt, 'a number of retries >= 0', 3);
    const retryDelayMs = r.field(o, 'retry_delay', at, parseDuration, 'a duration such as 60s', 60_000);
    if (device === null || baudRate === null || slots === null || drives === null || mailslots === null || moveMs === null || commandTimeoutMs === null || retries === null || retryDelayMs === null) return null;
    return { name: robotName, device, baudRate, slots, drives, mailslots, moveMs, commandTimeoutMs, retries, retryDelayMs };
  });
}

function readLibraries(r: Reader, value: unknown, robots: Named<RobotConfig>, media: Named<MediaTypeConfig>): Named<LibraryConfig> {
  return readNamedMap(r, value, 'libraries', (libName, _o, at) => {
    const o = r.object(_o, at, ['robot', 'media_type', 'dismount_delay', 'max_dismount_delay', 'mover_timeout', 'mount_min_bytes', 'mount_min_files', 'mount_max_age', 'auto_readonly', 'faults'])!;
    const robot = r.field(o, 'robot', at, name, 'a robot name');
    const mediaType = r.field(o, 'media_type', at, name, 'a media type name');
    const dismountDelayMs = r.field(o, 'dismount_delay', at, parseDuration, 'a duration such as 60s', 60_000);
    const maxDismountDelayMs = r.field(o, 'max_dismount_delay', at, parseDuration, 'a duration such as 10min', 600_000);
    const moverTimeoutMs = r.field(o, 'mover_timeout', at, parseDuration, 'a duration such as 30s', 30_000);
    const mountMinBytes = r.field(o, 'mount_min_bytes', at, parseSize, 'a size such as 500GB', 500e9);
    const mountMinFiles = r.field(o, 'mount_min_files', at, posInt, 'a number of files', 10_000);
    const mountMaxAgeMs = r.field(o, 'mount_max_age', at, parseDuration, 'a duration such as 2s', 2000);
    const autoReadonly = o.auto_readonly === undefined || o.auto_readonly === null ? null : readAutoReadonly(r, o.auto_readonly, join(at, 'auto_readonly'));
    const faults = readFaults(r, o.faults ?? {}, join(at, 'faults'));
    if (robot !== null && !known(robots, robot)) r.problem(join(at, 'robot'), `unknown robot "${robot}" (known: ${[...robots.keys()].join(', ') || 'none'})`);
    if (mediaType !== null && !known(media, mediaType)) r.problem(join(at, 'media_type'), `unknown media type "${mediaType}" (known: ${[...media.keys()].join(', ') || 'none'})`);
    if (robot === null || mediaType === null || dismountDelayMs === null || maxDismountDelayMs === null || moverTimeoutMs === null || mountMinBytes === null || mountMinFiles === null || mountMaxAgeMs === null || autoReadonly === undefined || faults === undefined) return null;
    return { name: libName, robot, mediaType, dismountDelayMs, maxDismountDelayMs, moverTimeoutMs, mountMinBytes, mountMinFiles, mountMaxAgeMs, autoReadonly, faults };
  });
}

/** `faults: { max_suspect_movers: 3, max_noaccess: 2, noaccess_window: 5min, … }` (every key optional); undefined when it has problems. */
function readFaults(r: Reader, value: unknown, at: string): LibraryFaultsConfig | undefined {
  const o = r.object(value, at, ['max_suspect_movers', 'max_noaccess', 'noaccess_window', 'mover_max_consecutive', 'mover_max_failures', 'mover_failure_window', 'near_end_fraction', 'reread_one_in']);
  if (!o) return undefined;
  const fraction = (v: unknown): number | null => (typeof v === 'number' && v >= 0 && v < 1 ? v : null);
  const f = {
    maxSuspectMovers: r.field(o, 'max_suspect_movers', at, posInt, 'a number of movers ≥ 1', DEFAULT_LIBRARY_FAULTS.maxSuspectMovers),
    maxNoaccess: r.field(o, 'max_noaccess', at, posInt, 'a number of volumes ≥ 1', DEFAULT_LIBRARY_FAULTS.maxNoaccess),
    noaccessWindowMs: r.field(o, 'noaccess_window', at, parseDuration, 'a duration such as 5min', DEFAULT_LIBRARY_FAULTS.noaccessWindowMs),
    moverMaxConsecutive: r.field(o, 'mover_max_consecutive', at, posInt, 'a number of failures ≥ 1', DEFAULT_LIBRARY_FAULTS.moverMaxConsecutive),
    moverMaxFailures: r.field(o, 'mover_max_failures', at, posInt, 'a number of failures ≥ 1', DEFAULT_LIBRARY_FAULTS.moverMaxFailures),
    moverFailureWindowMs: r.field(o, 'mover_failure_window', at, parseDuration, 'a duration such as 1h', DEFAULT_LIBRARY_FAULTS.moverFailureWindowMs),
    nearEndFraction: r.field(o, 'near_end_fraction', at, fraction, 'a fraction of the capacity in [0, 1) such as 0.02', DEFAULT_LIBRARY_FAULTS.nearEndFraction),
    rereadOneIn: r.field(o, 'reread_one_in', at, nonNegInt, 'a whole number N (re-read 1 in N written files; 0 = never)', DEFAULT_LIBRARY_FAULTS.rereadOneIn),
  };
  if (Object.values(f).some((v) => v === null)) return undefined;
  return f as { [K in keyof LibraryFaultsConfig]: number };
}

/** `auto_readonly: { every: 1h, older_than: 30d, families: { raw: { older_than: 7d } } }`; undefined when it has problems. */
function readAutoReadonly(r: Reader, value: unknown, at: string): AutoReadonlyConfig | undefined {
  const o = r.object(value, at, ['every', 'older_than', 'families']);
  if (!o) return undefined;
  const positive = (v: unknown): number | null => { const ms = parseDuration(v); return ms !== null && ms > 0 ? ms : null; };
  const everyMs = r.field(o, 'every', at, positive, 'a duration > 0 such as 1h', 3_600_000);
  const olderThanMs = r.field(o, 'older_than', at, parseDuration, 'a duration such as 30d');
  const families = new Map<string, number>();
  let ok = everyMs !== null && olderThanMs !== null;
  if (o.families !== undefined && o.families !== null) {
    const famAt = join(at, 'families');
    const fams = r.object(o.families, famAt, Object.keys(typeof o.families === 'object' ? o.families : {}));
    for (const [family, entry] of Object.entries(fams ?? {})) {
      const entryAt = join(famAt, family);
      if (!FAMILY_PATTERN.test(family) || family === 'none') {
        r.problem(entryAt, 'a file family name uses only letters, digits, - and _ (and is not "none")');
        ok = false;
        continue;
      }
      const f = r.object(entry, entryAt, ['older_than']);
      const ms = f && r.field(f, 'older_than', entryAt, parseDuration, 'a duration such as 7d');
      if (ms === null || ms === undefined) ok = false;
      else families.set(family, ms);
    }
    if (!fams) ok = false;
  }
  return ok ? { everyMs: everyMs!, olderThanMs: olderThanMs!, families } : undefined;
}

function readDrives(r: Reader, value: unknown, robots: Named<RobotConfig>, libraries: Named<LibraryConfig>): DriveConfig[] {
  const drives: DriveConfig[] = [];
  if (value === undefined) return drives;
  if (!Array.isArray(value)) {
    r.problem('drives', `must be a list, got ${describe(value)}`);
    return drives;
  }
  const names = new Set<string>();
  const elements = new Map<string, number>(); // "robot:element" → index, to find two drives in one bay
  const perRobot = new Map<string, number>();
  value.forEach((entry, i) => {
    const at = join('drives', i);
    const o = r.object(entry, at, ['name', 'library', 'element', 'mover']);
    if (!o) return;
    const driveName = r.field(o, 'name', at, name, 'a drive name');
    const library = r.field(o, 'library', at, name, 'a library name');
    const element = r.field(o, 'element', at, posInt, 'the drive element number in the robot (1, 2, …)');
    const mover = r.field(o, 'mover', at, (v) => (v === 'local' || v === 'remote' ? v : null), 'local or remote', 'local' as const);
    if (driveName !== null) {
      if (names.has(driveName)) r.problem(join(at, 'name'), `duplicate drive name "${driveName}"`);
      names.add(driveName);
    }
    const lib = library === null ? undefined : libraries.get(library);
    if (library !== null && !known(libraries, library)) r.problem(join(at, 'library'), `unknown library "${library}" (known: ${[...libraries.keys()].join(', ') || 'none'})`);
    if (driveName === null || lib === undefined || element === null) return;
    const robot = robots.get(lib.robot);
    if (robot) {
      if (element > robot.drives) r.problem(join(at, 'element'), `robot "${robot.name}" has ${robot.drives} drive bays; there is no D${element}`);
      const key = `${robot.name}:${element}`;
      const other = elements.get(key);
      if (other !== undefined) r.problem(join(at, 'element'), `D${element} of robot "${robot.name}" is already drives[${other}]`);
      elements.set(key, i);
      const count = (perRobot.get(robot.name) ?? 0) + 1;
      perRobot.set(robot.name, count);
      if (count === robot.drives + 1) r.problem('drives', `more drives than robot "${robot.name}" has drive bays (${robot.drives})`);
    }
    drives.push({ name: driveName, library: lib.name, robot: lib.robot, element, mediaType: lib.mediaType, mover: mover ?? 'local' });
  });
  return drives;
}

function readSimulator(r: Reader, value: unknown, abs: (p: string) => string, robots: Named<RobotConfig>, media: Named<MediaTypeConfig>): SimulatorConfig | null {
  const o = r.object(value, 'simulator', ['time_scale', 'tapes_dir', 'cartridges']);
  if (!o) return null;
  const timeScale = r.field(o, 'time_scale', 'simulator', scale, 'a number >= 0 (1 = real time)', 1);
  const tapesDir = r.field(o, 'tapes_dir', 'simulator', str, 'a directory path', 'var/tapes');
  const cartridges: CartridgeConfig[] = [];
  const list = o.cartridges ?? [];
  if (!Array.isArray(list)) r.problem('simulator.cartridges', `must be a list, got ${describe(list)}`);
  const seen = new Map<string, string>(); // label → where it was first declared
  const used = new Map<string, string>(); // "robot:slot" → label
  (Array.isArray(list) ? list : []).forEach((entry, i) => {
    const at = join('simulator.cartridges', i);
    const c = r.object(entry, at, ['labels', 'media_type', 'robot', 'slots']);
    if (!c) return;
    const labelSpec = r.field(c, 'labels', at, str, 'a label or a label range such as TS0001L9-TS0020L9');
    const mediaType = r.field(c, 'media_type', at, name, 'a media type name');
    const robotName = r.field(c, 'robot', at, name, 'a robot name');
    const slots = c.slots === undefined ? null : r.field(c, 'slots', at, parseIntRange, 'a slot or slot range such as 1-20');
    if (mediaType !== null && !known(media, mediaType)) r.problem(join(at, 'media_type'), `unknown media type "${mediaType}"`);
    const robot = robotName === null ? undefined : robots.get(robotName);
    if (robotName !== null && !known(robots, robotName)) r.problem(join(at, 'robot'), `unknown robot "${robotName}"`);
    if (labelSpec === null) return;
    const labels = expandLabelRange(labelSpec);
    if (typeof labels === 'string') {
      r.problem(join(at, 'labels'), labels);
      return;
    }
    for (const label of labels) {
      if (!LABEL_PATTERN.test(label)) r.problem(join(at, 'labels'), `label "${label}" must be 6–8 characters of A–Z and 0–9`);
      const first = seen.get(label);
      if (first !== undefined) r.problem(join(at, 'labels'), `duplicate label ${label} (also in ${first})`);
      seen.set(label, at);
    }
    if (slots && slots.last - slots.first + 1 !== labels.length) {
      r.problem(join(at, 'slots'), `${slots.last - slots.first + 1} slots for ${labels.length} cartridges`);
    }
    if (mediaType === null || robot === undefined) return;
    let next = slots?.first ?? 1;
    for (const label of labels) {
      if (slots === null) while (used.has(`${robot.name}:${next}`)) next++;
      const key = `${robot.name}:${next}`;
      if (next > robot.slots) {
        r.problem(join(at, 'slots'), `robot "${robot.name}" has ${robot.slots} slots; no room for ${label}`);
        break;
      }
      const holder = used.get(key);
      if (holder !== undefined) r.problem(join(at, 'slots'), `slot ${next} of robot "${robot.name}" already holds ${holder}`);
      used.set(key, label);
      cartridges.push({ label, mediaType, robot: robot.name, slot: next });
      next++;
    }
  });
  if (timeScale === null || tapesDir === null) return null;
  return { timeScale, tapesDir: abs(tapesDir), cartridges };
}
