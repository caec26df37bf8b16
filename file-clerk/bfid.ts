import { TapestryError } from '../src/errors/index.ts';

/**
 * Enstore's identifiers (bfid_util.py): a bfid is BRAND + `seconds * 100000 +
 * counter`. Tapestry takes the counter from a Postgres sequence shared by every
 * process (`nextval % 100000`) and the seconds from the database clock, so
 * allocations from any number of processes never collide unless 100000 are
 * made within one second.
 */
export const DEFAULT_BRAND = 'TAPE';
export const BFID_COUNTER_MODULUS = 100_000;
const BRAND_RE = /^[A-Za-z]{1,16}$/;
/** Enstore's check: `^[a-zA-Z0-9]*[0-9]{11,16}$`; our brands are letters only, so the split is unambiguous. */
const BFID_RE = /^([A-Za-z]*)([0-9]{11,16})$/;

export function checkBrand(brand: string): string {
  if (!BRAND_RE.test(brand)) throw new TapestryError('CONFIG_INVALID', `bfid brand ${JSON.stringify(brand)} must be 1 to 16 letters`);
  return brand;
}

export function formatBfid(brand: string, epochSeconds: number, sequence: number): string {
  const n = Math.floor(epochSeconds) * BFID_COUNTER_MODULUS + (sequence % BFID_COUNTER_MODULUS);
  return `${brand}${n}`;
}

export interface ParsedBfid {
  readonly brand: string;
  readonly seconds: number;
  readonly counter: number;
}

export function parseBfid(bfid: string): ParsedBfid | null {
  const m = BFID_RE.exec(bfid);
  if (!m) return null;
  const n = Number(m[2]);
  return { brand: m[1]!, seconds: Math.floor(n / BFID_COUNTER_MODULUS), counter: n % BFID_COUNTER_MODULUS };
}

/** A bfid supplied from outside: well-formed and, when `brand` is given, of this system (USERERROR otherwise). */
export function checkBfid(bfid: string, brand?: string): string {
  const parsed = parseBfid(bfid);
  if (!parsed) throw new TapestryError('USERERROR', `${JSON.stringify(bfid)} is not a bfid (BRAND followed by 11 to 16 digits)`, { context: { bfid } });
  if (brand !== undefined && parsed.brand !== brand) {
    throw new TapestryError('USERERROR', `bfid ${bfid} has brand "${parsed.brand}", not this system's "${brand}"`, { context: { bfid, brand } });
  }
  return bfid;
}

/** Enstore's location cookie `0000_000000000_NNNNNNN` for a file number on tape. */
export function locationCookie(fileNo: number): string {
  return `0000_000000000_${String(fileNo).padStart(7, '0')}`;
}
