/**
 * What a soak run does, with the defaults of issue 5 item 7: 30 days of
 * acquisition at 35 MB/s (≈ 3 TB/day) in 2 GB files on 4 LTO-9 drives, with
 * faults at rates of the order seen in production tape libraries.
 */
export interface FaultRates {
  /** A drive error (the next write on a random drive fails DRIVE_ERROR) per this many bytes submitted. */
  readonly driveErrorPerBytes: number;
  /** A media error (the next write on a random loaded drive fails MEDIA_ERROR) per this many bytes submitted. */
  readonly mediaErrorPerBytes: number;
  /** A robot error (the next robot command answers RETRY or BUSY) per this many mounts. */
  readonly robotErrorPerMounts: number;
  /** A mover crash (a Mover dies mid-whatever, a new one starts for its drive) per this much virtual time. */
  readonly moverCrashEveryMs: number;
}

export interface SoakOptions {
  readonly days: number;
  readonly rateBytesPerSec: number;
  readonly fileBytes: number;
  readonly drives: number;
  /** Cartridges in the robot; 0 = enough for the run plus half again, and 2 a drive + 4 spare. */
  readonly cartridges: number;
  /** file_family_width of the soak directory: volumes written at once. */
  readonly width: number;
  readonly maxRetry: number;
  readonly faults: FaultRates;
  /** Multiplies every fault rate (CI: more faults in fewer days); 0 = no faults. */
  readonly faultScale: number;
  /** PRNG seed for file contents and fault choices: a run is repeatable up to scheduling order. */
  readonly seed: number;
  /** Wall-clock quiet the virtual clock waits for before each jump (tools/soak/soak-clock.ts). */
  readonly quietMs: number;
  /** Keep the soak's directory (database, cartridges, log) instead of removing it. */
  readonly keep: boolean;
  /** Where the directory goes (default: the system temp dir). */
  readonly dir: string | null;
  readonly json: boolean;
  /** Progress lines on stderr every this many simulated days (0: none). */
  readonly progressDays: number;
  /** Stop submitting after this much wall time (minutes; 0: no limit), then drain and verify what was written. */
  readonly wallLimitMin: number;
}

export const DAY_MS = 86_400_000;
export const TB = 1e12;

export const DEFAULT_FAULT_RATES: FaultRates = {
  driveErrorPerBytes: 50 * TB,
  mediaErrorPerBytes: 100 * TB,
  robotErrorPerMounts: 500,
  moverCrashEveryMs: 3 * DAY_MS,
};

export const DEFAULT_SOAK_OPTIONS: SoakOptions = {
  days: 30,
  rateBytesPerSec: 35e6,
  fileBytes: 2e9,
  drives: 4,
  cartridges: 0,
  width: 2,
  maxRetry: 3,
  faults: DEFAULT_FAULT_RATES,
  faultScale: 1,
  seed: 1,
  quietMs: 0.5,
  keep: false,
  dir: null,
  json: false,
  progressDays: 1,
  wallLimitMin: 0,
};

const USAGE = `usage: npm run soak -- [--days N] [--rate 35MB/s] [--file-size 2GB] [--drives 4] [--cartridges N]
       [--width 2] [--max-retry 3] [--fault-scale 1] [--drive-error-per 50TB] [--media-error-per 100TB]
       [--robot-error-per-mounts 500] [--mover-crash-every-days 3] [--seed 1] [--quiet-ms 0.5]
       [--dir DIR] [--keep] [--json] [--progress-days 1] [--wall-limit-min 0]`;

function number(flag: string, text: string | undefined, min = 0): number {
  const n = Number(text);
  if (text === undefined || !Number.isFinite(n) || n < min) throw new Error(`${flag} needs a number ≥ ${min}, got ${JSON.stringify(text)}\n${USAGE}`);
  return n;
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** "2GB", "35MB/s", "50TB", "2e9" → bytes (per second). */
export function bytes(flag: string, text: string | undefined): number {
  const m = /^\s*([0-9.e+]+)\s*([kmgt]i?b|b)?\s*(\/s)?\s*$/i.exec(text ?? '');
  const n = m ? Number(m[1]) * (UNITS[(m[2] ?? '').toLowerCase()] ?? NaN) : NaN;
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a size such as 2GB or 35MB/s, got ${JSON.stringify(text)}\n${USAGE}`);
  return n;
}

export function parseSoakArgs(argv: readonly string[]): SoakOptions {
  let o: SoakOptions = DEFAULT_SOAK_OPTIONS;
  let faults: FaultRates = DEFAULT_FAULT_RATES;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string | undefined => argv[++i];
    switch (flag) {
      case '--days': o = { ...o, days: number(flag, value()) }; break;
      case '--rate': o = { ...o, rateBytesPerSec: bytes(flag, value()) }; break;
      case '--file-size': o = { ...o, fileBytes: Math.round(bytes(flag, value())) }; break;
      case '--drives': o = { ...o, drives: number(flag, value(), 1) }; break;
      case '--cartridges': o = { ...o, cartridges: number(flag, value(), 1) }; break;
      case '--width': o = { ...o, width: number(flag, value(), 1) }; break;
      case '--max-retry': o = { ...o, maxRetry: number(flag, value()) }; break;
      case '--fault-scale': o = { ...o, faultScale: number(flag, value()) }; break;
      case '--drive-error-per': faults = { ...faults, driveErrorPerBytes: bytes(flag, value()) }; break;
      case '--media-error-per': faults = { ...faults, mediaErrorPerBytes: bytes(flag, value()) }; break;
      case '--robot-error-per-mounts': faults = { ...faults, robotErrorPerMounts: number(flag, value(), 1) }; break;
      case '--mover-crash-every-days': faults = { ...faults, moverCrashEveryMs: number(flag, value()) * DAY_MS }; break;
      case '--seed': o = { ...o, seed: number(flag, value()) }; break;
      case '--quiet-ms': o = { ...o, quietMs: number(flag, value()) }; break;
      case '--dir': o = { ...o, dir: value() ?? null }; break;
      case '--keep': o = { ...o, keep: true }; break;
      case '--json': o = { ...o, json: true }; break;
      case '--progress-days': o = { ...o, progressDays: number(flag, value()) }; break;
      case '--wall-limit-min': o = { ...o, wallLimitMin: number(flag, value()) }; break;
      case '-h': case '--help': throw new Error(USAGE);
      default: throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  if (!Number.isInteger(o.drives) || o.drives > 16) throw new Error(`--drives must be an integer 1..16\n${USAGE}`);
  return { ...o, faults };
}

/** mulberry32: a small, fast, seedable PRNG (file seeds and fault choices). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
