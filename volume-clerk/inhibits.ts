import { TapestryError, type ErrorCode } from '../src/errors/index.ts';

/**
 * Volume inhibits and availability (reference/enstore.md §2 "Inhibits",
 * "Availability"; VolumeClerk.is_vol_available). Pure: the service feeds it a
 * volume row and acts on the answer.
 */
export const SYSTEM_ACCESS = ['none', 'NOACCESS', 'NOTALLOWED', 'DELETED'] as const;
export const SYSTEM_STATE = ['none', 'full', 'readonly', 'migrating', 'migrated', 'duplicating', 'duplicated', 'cloning', 'cloned'] as const;
export const USER_ACCESS = ['none', 'NOACCESS', 'NOTALLOWED'] as const;
export const USER_STATE = ['none', 'full', 'readonly', 'migrated'] as const;

export type AccessInhibit = (typeof SYSTEM_ACCESS)[number];
export type StateInhibit = (typeof SYSTEM_STATE)[number];
export type InhibitKind = 'system' | 'user';
export type InhibitField = 'access' | 'state';

export interface InhibitPair {
  readonly access: AccessInhibit;
  readonly state: StateInhibit;
}

/** The values one of the four inhibits may take (the schema's CHECKs). */
export function inhibitValues(kind: InhibitKind, field: InhibitField): readonly string[] {
  if (kind === 'system') return field === 'access' ? SYSTEM_ACCESS : SYSTEM_STATE;
  return field === 'access' ? USER_ACCESS : USER_STATE;
}

export function checkInhibitValue(kind: InhibitKind, field: InhibitField, value: string): string {
  const allowed = inhibitValues(kind, field);
  if (!allowed.includes(value)) {
    throw new TapestryError('USERERROR', `a ${kind} ${field} inhibit cannot be ${JSON.stringify(value)} (allowed: ${allowed.join(', ')})`, { context: { kind, field, value } });
  }
  return value;
}

/** The volume family `storage_group.file_family.wrapper`; `none` marks the blank pools. */
export interface VolumeFamily {
  readonly storageGroup: string;
  readonly fileFamily: string;
  readonly wrapper: string;
}

export function familyName(f: VolumeFamily): string {
  return `${f.storageGroup}.${f.fileFamily}.${f.wrapper}`;
}

/** Enstore's write pools, in the order next-write-volume tries them. */
export const WRITE_POOLS = ['exact', 'family', 'storage_group', 'common'] as const;
export type WritePool = (typeof WRITE_POOLS)[number];

/**
 * The pool a volume is in for a request of family `f`: `sg.ff.wrapper`
 * (exact), `sg.ff.none` (family), `sg.none.none` (storage group's blanks),
 * `none.none.none` (common blanks); null when it cannot take the file.
 */
export function poolFor(v: VolumeFamily, f: VolumeFamily): WritePool | null {
  if (v.storageGroup === f.storageGroup && v.fileFamily === f.fileFamily) {
    if (v.wrapper === f.wrapper) return 'exact';
    return v.wrapper === 'none' ? 'family' : null;
  }
  if (v.fileFamily !== 'none' || v.wrapper !== 'none') return null;
  if (v.storageGroup === f.storageGroup) return 'storage_group';
  return v.storageGroup === 'none' ? 'common' : null;
}

/** Enstore's 5 % rule: a volume takes a file only with room for its size + 5 %. Integer arithmetic. */
export function fits(size: number, remainingBytes: number): boolean {
  return remainingBytes * 100 >= size * 105;
}

/** What availability needs to know about a volume. */
export interface VolumeFacts extends VolumeFamily {
  readonly label: string;
  readonly systemInhibit: InhibitPair;
  readonly userInhibit: { readonly access: string; readonly state: string };
  readonly writeProtected: 'u' | 'y' | 'n';
  readonly remainingBytes: number;
  readonly capacityBytes: number;
  readonly location: { readonly kind: string; readonly ref: string | null };
  readonly shelfPolicy: 'fail' | 'operator';
}

export type Availability =
  | { readonly ok: true; readonly needsOperator: boolean }
  | {
      readonly ok: false;
      readonly code: ErrorCode;
      /** The inhibit or condition that refused: NOACCESS, full, readonly, write_protected, family, space, shelf, ... */
      readonly reason: string;
      readonly message: string;
      /** A written volume without room for the file: the caller sets it full (Enstore's VOLISSETTOFULL). */
      readonly flipToFull: boolean;
    };

const refuse = (code: ErrorCode, reason: string, message: string, flipToFull = false): Availability => ({ ok: false, code, reason, message, flipToFull });
const OK: Availability = { ok: true, needsOperator: false };

/** DELETED, then the access inhibits (system before user). */
function accessCheck(v: VolumeFacts): Availability | null {
  if (v.systemInhibit.access === 'DELETED') return refuse('DELETED', 'DELETED', `Volume ${v.label} is DELETED.`);
  for (const [who, access] of [['', v.systemInhibit.access], [' by an operator', v.userInhibit.access]] as const) {
    if (access === 'NOACCESS') return refuse('NOACCESS', 'NOACCESS', `Volume ${v.label} is marked NOACCESS${who}.`);
    if (access === 'NOTALLOWED') return refuse('NOTALLOWED', 'NOTALLOWED', `Volume ${v.label} is marked NOTALLOWED${who}.`);
  }
  return null;
}

/**
 * Reads: no access inhibit; every state inhibit is readable (full, readonly,
 * migrated, duplicated, ...). A shelved volume fails at once under the "fail"
 * policy, or needs an operator to fetch it under "operator".
 */
export function readAvailability(v: VolumeFacts): Availability {
  const refused = accessCheck(v);
  if (refused) return refused;
  if (v.location.kind === 'shelf') {
    if (v.shelfPolicy === 'fail') return refuse('SHELVED', 'shelf', `Volume ${v.label} is on ${v.location.ref === null ? 'the shelf' : `shelf "${v.location.ref}"`} and its shelf policy is "fail".`);
    return { ok: true, needsOperator: true };
  }
  return OK;
}

/**
 * Writes: no access inhibit, no state inhibit (full → NOSPACE, the rest →
 * READONLY), not write-protected, not on the shelf, of the requested family
 * when one is given (or in one of its blank pools, see poolFor), and room for
 * size + 5 %.
 */
export function writeAvailability(v: VolumeFacts, request: { size?: number; family?: VolumeFamily } = {}): Availability {
  const refused = accessCheck(v);
  if (refused) return refused;
  for (const [who, state] of [['', v.systemInhibit.state], [' (set by an operator)', v.userInhibit.state]] as const) {
    if (state === 'full') return refuse('NOSPACE', 'full', `Volume ${v.label} is full${who}.`);
    if (state !== 'none') return refuse('READONLY', state, `Volume ${v.label} is ${state}${who}.`);
  }
  if (v.writeProtected === 'y') return refuse('WRITE_PROTECTED', 'write_protected', `Volume ${v.label} is write-protected.`);
  if (v.location.kind === 'shelf') return refuse('SHELVED', 'shelf', `Volume ${v.label} is on the shelf.`);
  const f = request.family;
  if (f && poolFor(v, f) === null) {
    return refuse('CONFLICT', 'family', `Volume ${v.label} belongs to ${familyName(v)}, not ${familyName(f)}.`);
  }
  if (request.size !== undefined && !fits(request.size, v.remainingBytes)) {
    return refuse('NOSPACE', 'space', `Volume ${v.label} has ${v.remainingBytes} bytes left, not enough for ${request.size} bytes + 5%.`, v.remainingBytes < v.capacityBytes);
  }
  return OK;
}

/**
 * Why a volume cannot take writes at all, naming every inhibit and who set
 * it ("TS0005L9 is readonly (set by an operator), write-protected"); null
 * when nothing forbids writing. NOVOLUME uses it so an operator sees which
 * inhibit starves a family instead of only "no new volumes available".
 */
export function unwritableReason(v: VolumeFacts): string | null {
  const parts: string[] = [];
  const byOperator = ' (set by an operator)';
  if (v.systemInhibit.access !== 'none') parts.push(v.systemInhibit.access);
  if (v.userInhibit.access !== 'none') parts.push(v.userInhibit.access + byOperator);
  if (v.systemInhibit.state !== 'none') parts.push(v.systemInhibit.state);
  if (v.userInhibit.state !== 'none') parts.push(v.userInhibit.state + byOperator);
  if (v.writeProtected === 'y') parts.push('write-protected');
  if (v.location.kind === 'shelf') parts.push('on the shelf');
  return parts.length === 0 ? null : `${v.label} is ${parts.join(', ')}`;
}
