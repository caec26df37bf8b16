/**
 * What a failed transfer means for the volume, the mover and the library
 * (reference/enstore.md §3 "Suspect volumes", "NOACCESS storm", "Mover
 * states"; docs/faults-drive-media.md). Pure: the service feeds it what the
 * repository holds and acts on the verdicts.
 */
import { DEFAULT_LIBRARY_FAULTS, type LibraryFaultsConfig } from '../src/config/types.ts';
import type { RequestKind } from './types.ts';

/** `libraries.<name>.faults`: the thresholds are the config's, one definition with their defaults. */
export type FaultThresholds = LibraryFaultsConfig;

export const DEFAULT_FAULT_THRESHOLDS: FaultThresholds = DEFAULT_LIBRARY_FAULTS;

/**
 * - `end-of-tape`: the volume is full; the write goes elsewhere without spending a retry, nobody is blamed.
 * - `write-crc`: what is on tape (or arrived) differs from what encp sent: the volume goes readonly, the write goes elsewhere.
 * - `drive-media`: the (volume, mover) pair becomes suspect and the mover's failure counts.
 * - `other`: not a drive or media fault (the client went away, a bad request, a robot error handled elsewhere): the usual retry rule only.
 */
export type FailureClass = 'end-of-tape' | 'write-crc' | 'drive-media' | 'other';

/** Codes a drive or the tape in it produce (Enstore's ROBOT/TAPE errors and POSITIONING_ERROR). */
export const DRIVE_MEDIA_CODES: ReadonlySet<string> = new Set(['MEDIA_ERROR', 'DRIVE_ERROR', 'DRIVE_NOT_READY', 'FILEMARK', 'BLANK_CHECK', 'LABEL_MISMATCH']);

export interface FailureFacts {
  readonly code: string;
  readonly kind: RequestKind;
  /** The volume's remaining and total bytes, when the volume is known. */
  readonly remainingBytes?: number;
  readonly capacityBytes?: number;
}

export function classifyFailure(f: FailureFacts, t: Pick<FaultThresholds, 'nearEndFraction'>): FailureClass {
  if (f.kind === 'write') {
    if (f.code === 'END_OF_TAPE') return 'end-of-tape';
    if (f.code === 'CRC_MISMATCH') return 'write-crc';
    // Enstore: a write error with ≤ 1 % left is the tape ending early, not a bad drive.
    if (DRIVE_MEDIA_CODES.has(f.code) && f.remainingBytes !== undefined && f.capacityBytes !== undefined && f.capacityBytes > 0
      && f.remainingBytes < t.nearEndFraction * f.capacityBytes) return 'end-of-tape';
  }
  return DRIVE_MEDIA_CODES.has(f.code) ? 'drive-media' : 'other';
}

/** The movers that failed on one volume, counting `mover` now: NOACCESS once they reach the threshold. */
export function suspectVerdict(suspectMovers: readonly string[], mover: string, t: Pick<FaultThresholds, 'maxSuspectMovers'>): { movers: string[]; noaccess: boolean } {
  const movers = [...new Set([...suspectMovers, mover])].sort();
  return { movers, noaccess: movers.length >= t.maxSuspectMovers };
}

/**
 * A NOACCESS storm on one robot: `times` are when its volumes went NOACCESS
 * (this one included), `resetAt` the last `library reset` (older ones do not count).
 */
export function noaccessStorm(times: readonly number[], now: number, resetAt: number | null, t: Pick<FaultThresholds, 'maxNoaccess' | 'noaccessWindowMs'>): boolean {
  const from = Math.max(now - t.noaccessWindowMs, resetAt ?? -Infinity);
  return times.filter((at) => at > from && at <= now).length >= t.maxNoaccess;
}

/** A mover's failure record: consecutive failures since its last success, and when each recent failure happened. */
export interface MoverFailureRecord {
  readonly consecutive: number;
  readonly failures: readonly number[];
}

/**
 * Count one more failure of a mover at `now` (failures before the window are
 * dropped): offline when both the consecutive count and the count within the
 * window have reached their thresholds.
 */
export function moverFailed(rec: MoverFailureRecord, now: number, t: Pick<FaultThresholds, 'moverMaxConsecutive' | 'moverMaxFailures' | 'moverFailureWindowMs'>): { record: MoverFailureRecord; offline: boolean } {
  const failures = [...rec.failures.filter((at) => at > now - t.moverFailureWindowMs && at <= now), now];
  const record = { consecutive: rec.consecutive + 1, failures };
  return { record, offline: record.consecutive >= t.moverMaxConsecutive && failures.length >= t.moverMaxFailures };
}

/** A success resets the consecutive count; the failures in the window stay (Enstore: both must hold). */
export function moverSucceeded(rec: MoverFailureRecord): MoverFailureRecord {
  return { consecutive: 0, failures: rec.failures };
}


/**
 * Failures after which a request's retry goes to another mover when there is
 * one (the drive may be the cause): drive and media errors, CRC mismatches,
 * end of tape.
 */
export const RETRY_ELSEWHERE_CODES: readonly string[] = [...DRIVE_MEDIA_CODES, 'CRC_MISMATCH', 'END_OF_TAPE'];
