/**
 * The robot serial protocol (docs/robot-protocol.md): a pure codec, no I/O.
 * Both ends use it: the simulated robot (hardware-sim/robot-server.ts) and the
 * media changer client (serial-media-changer.ts).
 *
 * Lines are ASCII (0x20–0x7e), at most MAX_LINE_BYTES before the `\r\n`
 * terminator. Functions here take and return lines *without* the terminator;
 * the writers append CRLF.
 */
import { TapestryError, type ErrorCode } from '../errors/index.ts';
import type { ElementAddress, ElementKind, ElementStatus, RobotEvent, RobotInventory, RobotState, RobotStatus } from './types.ts';

export const MAX_LINE_BYTES = 256;
export const CRLF = '\r\n';
/** Tags are 1–8 decimal digits; the client wraps back to 1 after this. */
export const MAX_TAG = 99_999_999;

// --- error codes ------------------------------------------------------------------

export type RobotErrorName =
  | 'SYNTAX'
  | 'RELEASE_RETRY'
  | 'RETRY'
  | 'FORCE_DEMOUNT'
  | 'DRIVE_DOWN'
  | 'OPERATOR'
  | 'JAMMED'
  | 'UNLOAD_RETRY'
  | 'EMPTY'
  | 'FULL'
  | 'NO_ELEMENT'
  | 'BUSY';

export interface RobotErrorSpec {
  readonly code: number;
  readonly name: RobotErrorName;
  /** `robot`: CTA cta-smc taxonomy (the robot's own trouble); `protocol`: the request itself is wrong. */
  readonly class: 'robot' | 'protocol';
  /** Whether the client retries the same command by itself. */
  readonly retryable: boolean;
  readonly tapestry: ErrorCode;
  /** Client retry delay as a multiple of `retryDelayMs` (0: not retried). */
  readonly delayFactor: number;
  /** What CTA's tape daemon does with this exit code, for the doc and operators. */
  readonly meaning: string;
}

/**
 * The one table of robot error codes. 2–16 are cta-smc's exit codes (CTA
 * `mediachanger`); 1 and 10–12 are ours for requests the robot refuses.
 */
export const ROBOT_ERRORS: readonly RobotErrorSpec[] = [
  { code: 1, name: 'SYNTAX', class: 'protocol', retryable: false, tapestry: 'MALFORMED', delayFactor: 0, meaning: 'Bad command line (unknown verb, bad argument, garbage, oversize).' },
  { code: 2, name: 'RELEASE_RETRY', class: 'robot', retryable: true, tapestry: 'ROBOT_ERROR', delayFactor: 10, meaning: 'Release the drive and retry after a long delay (CTA: 600 s).' },
  { code: 3, name: 'RETRY', class: 'robot', retryable: true, tapestry: 'ROBOT_ERROR', delayFactor: 1, meaning: 'Retry in a short while (CTA: 60 s).' },
  { code: 4, name: 'FORCE_DEMOUNT', class: 'robot', retryable: false, tapestry: 'ROBOT_FORCE_DEMOUNT', delayFactor: 0, meaning: 'The drive still has the tape threaded: unload it first.' },
  { code: 5, name: 'DRIVE_DOWN', class: 'robot', retryable: false, tapestry: 'DRIVE_DOWN', delayFactor: 0, meaning: 'Set the drive down.' },
  { code: 6, name: 'OPERATOR', class: 'robot', retryable: false, tapestry: 'ROBOT_OPERATOR', delayFactor: 0, meaning: 'Operator attention needed (door open, cartridge problem).' },
  { code: 8, name: 'JAMMED', class: 'robot', retryable: false, tapestry: 'ROBOT_OPERATOR', delayFactor: 0, meaning: 'Operator attention needed: the accessor is jammed.' },
  { code: 9, name: 'UNLOAD_RETRY', class: 'robot', retryable: true, tapestry: 'ROBOT_ERROR', delayFactor: 1, meaning: 'Unload and retry.' },
  { code: 10, name: 'EMPTY', class: 'protocol', retryable: false, tapestry: 'ELEMENT_EMPTY', delayFactor: 0, meaning: 'The source element holds no cartridge.' },
  { code: 11, name: 'FULL', class: 'protocol', retryable: false, tapestry: 'ELEMENT_FULL', delayFactor: 0, meaning: 'The destination element already holds a cartridge (or no free mail slot).' },
  { code: 12, name: 'NO_ELEMENT', class: 'protocol', retryable: false, tapestry: 'NO_SUCH_ELEMENT', delayFactor: 0, meaning: 'No such slot, drive or mail slot.' },
  { code: 16, name: 'BUSY', class: 'robot', retryable: true, tapestry: 'ROBOT_BUSY', delayFactor: 1, meaning: 'The robot is busy; retry.' },
];

const BY_CODE = new Map(ROBOT_ERRORS.map((e) => [e.code, e]));
const BY_NAME = new Map(ROBOT_ERRORS.map((e) => [e.name, e]));

export function robotErrorByCode(code: number): RobotErrorSpec | undefined {
  return BY_CODE.get(code);
}

export function robotErrorByName(name: RobotErrorName): RobotErrorSpec {
  return BY_NAME.get(name)!;
}

/** The robot code for a TapestryError thrown by a drive bay (insert/take) inside the robot. */
export function robotCodeForError(code: ErrorCode): number {
  switch (code) {
    case 'ROBOT_FORCE_DEMOUNT': return 4;
    case 'DRIVE_DOWN': return 5;
    case 'ELEMENT_EMPTY': return 10;
    case 'ELEMENT_FULL': return 11;
    case 'NO_SUCH_ELEMENT': return 12;
    case 'ROBOT_BUSY': return 16;
    default: return 6; // anything unexpected from a drive needs a human
  }
}

/**
 * Map a robot `ERR` reply to a TapestryError. Unknown codes map to ROBOT_ERROR
 * (and are not retried by the client: we do not know what they mean).
 */
export function robotErrorToTapestry(code: number, name: string, text: string, command: string): TapestryError {
  const spec = robotErrorByCode(code);
  return new TapestryError(spec?.tapestry ?? 'ROBOT_ERROR', `robot ${name} (${code}) on "${command}": ${text || spec?.meaning || 'no text'}`, {
    context: { robotCode: code, robotError: name, robotText: text, command },
  });
}

// --- elements and labels ----------------------------------------------------------------

const KIND_LETTER: Record<ElementKind, string> = { slot: 'S', drive: 'D', mailslot: 'I' };
const LETTER_KIND: Record<string, ElementKind> = { S: 'slot', D: 'drive', I: 'mailslot' };

export function formatElement(addr: ElementAddress): string {
  return `${KIND_LETTER[addr.kind]}${addr.index}`;
}

/** `S12` → {slot, 12}; null for anything else (lower case, zero, leading zeros, > 6 digits). */
export function parseElement(text: string): ElementAddress | null {
  const m = /^([SDI])([1-9][0-9]{0,5})$/.exec(text);
  if (m === null) return null;
  return { kind: LETTER_KIND[m[1]!]!, index: Number(m[2]) };
}

export const slot = (index: number): ElementAddress => ({ kind: 'slot', index });
export const drive = (index: number): ElementAddress => ({ kind: 'drive', index });
export const mailslot = (index: number): ElementAddress => ({ kind: 'mailslot', index });

/**
 * Cartridge labels (barcodes): 1–32 of [A-Za-z0-9._-]. `EMPTY` is reserved
 * because it is the empty marker in `* MAILSLOT CLOSED I1=EMPTY`.
 */
export function isValidLabel(label: string): boolean {
  return /^[A-Za-z0-9._-]{1,32}$/.test(label) && label !== 'EMPTY';
}

// --- requests -----------------------------------------------------------------------------

export type RobotCommand =
  | { readonly verb: 'INVENTORY' }
  | { readonly verb: 'STATUS' }
  | { readonly verb: 'LOAD'; readonly slot: number; readonly drive: number }
  | { readonly verb: 'UNLOAD'; readonly drive: number; readonly slot: number }
  | { readonly verb: 'TRANSFER'; readonly from: ElementAddress; readonly to: ElementAddress }
  | { readonly verb: 'EJECT'; readonly slot: number; readonly mailslot?: number }
  | { readonly verb: 'IMPORT'; readonly mailslot: number; readonly slot: number };

export type RobotVerb = RobotCommand['verb'];

/** Commands that move the accessor; fault injection (failNext, jam) applies to these. */
export function isMotion(cmd: RobotCommand): boolean {
  return cmd.verb !== 'INVENTORY' && cmd.verb !== 'STATUS';
}

export function formatCommand(cmd: RobotCommand): string {
  switch (cmd.verb) {
    case 'INVENTORY':
    case 'STATUS':
      return cmd.verb;
    case 'LOAD':
      return `LOAD S${cmd.slot} D${cmd.drive}`;
    case 'UNLOAD':
      return `UNLOAD D${cmd.drive} S${cmd.slot}`;
    case 'TRANSFER':
      return `TRANSFER ${formatElement(cmd.from)} ${formatElement(cmd.to)}`;
    case 'EJECT':
      return cmd.mailslot === undefined ? `EJECT S${cmd.slot}` : `EJECT S${cmd.slot} I${cmd.mailslot}`;
    case 'IMPORT':
      return `IMPORT I${cmd.mailslot} S${cmd.slot}`;
  }
}

export function formatRequest(tag: number, cmd: RobotCommand): string {
  return `${tag} ${formatCommand(cmd)}`;
}

export type ParsedRequest =
  | { readonly ok: true; readonly tag: number; readonly command: RobotCommand }
  /** `tag` is set when the line started with a valid tag, so the error can be answered with it. */
  | { readonly ok: false; readonly tag: number | null; readonly reason: string };

const TAG_RE = /^([0-9]{1,8}) /;

/** The tag at the start of a (possibly truncated or broken) request line, if any. */
export function peekTag(head: string): number | null {
  const m = TAG_RE.exec(head);
  return m === null ? null : Number(m[1]);
}

/** Argument shapes per verb: the element kinds expected, in order. */
const ARGS: Record<RobotVerb, { kinds: (ElementKind | 'any')[]; optional: number }> = {
  INVENTORY: { kinds: [], optional: 0 },
  STATUS: { kinds: [], optional: 0 },
  LOAD: { kinds: ['slot', 'drive'], optional: 0 },
  UNLOAD: { kinds: ['drive', 'slot'], optional: 0 },
  TRANSFER: { kinds: ['any', 'any'], optional: 0 },
  EJECT: { kinds: ['slot', 'mailslot'], optional: 1 },
  IMPORT: { kinds: ['mailslot', 'slot'], optional: 0 },
};

export function parseRequest(line: string): ParsedRequest {
  const tag = peekTag(line);
  if (tag === null) return { ok: false, tag: null, reason: 'expected "<tag> <VERB> [args]" with a 1-8 digit tag' };
  // Exactly one space between words: keeps the format strict and easy to log and diff.
  const words = line.split(' ').slice(1);
  const verb = words[0] ?? '';
  if (!Object.hasOwn(ARGS, verb)) return { ok: false, tag, reason: `unknown verb "${verb.slice(0, 16)}"` };
  const shape = ARGS[verb as RobotVerb];
  const args = words.slice(1);
  const min = shape.kinds.length - shape.optional;
  if (args.length < min || args.length > shape.kinds.length) {
    return { ok: false, tag, reason: `${verb} takes ${min === shape.kinds.length ? min : `${min}-${shape.kinds.length}`} argument(s), got ${args.length}` };
  }
  const elems: ElementAddress[] = [];
  for (const [i, text] of args.entries()) {
    const e = parseElement(text);
    const want = shape.kinds[i]!;
    if (e === null || (want !== 'any' && e.kind !== want)) {
      return { ok: false, tag, reason: `argument ${i + 1} of ${verb} must be ${want === 'any' ? 'an element (S<n>, D<n>, I<n>)' : `a ${want} (${KIND_LETTER[want]}<n>)`}, got "${text.slice(0, 16)}"` };
    }
    elems.push(e);
  }
  const n = (i: number): number => elems[i]!.index;
  switch (verb as RobotVerb) {
    case 'INVENTORY': return { ok: true, tag, command: { verb: 'INVENTORY' } };
    case 'STATUS': return { ok: true, tag, command: { verb: 'STATUS' } };
    case 'LOAD': return { ok: true, tag, command: { verb: 'LOAD', slot: n(0), drive: n(1) } };
    case 'UNLOAD': return { ok: true, tag, command: { verb: 'UNLOAD', drive: n(0), slot: n(1) } };
    case 'TRANSFER': return { ok: true, tag, command: { verb: 'TRANSFER', from: elems[0]!, to: elems[1]! } };
    case 'EJECT': return { ok: true, tag, command: elems.length === 2 ? { verb: 'EJECT', slot: n(0), mailslot: n(1) } : { verb: 'EJECT', slot: n(0) } };
    case 'IMPORT': return { ok: true, tag, command: { verb: 'IMPORT', mailslot: n(0), slot: n(1) } };
  }
}

// --- replies and events ---------------------------------------------------------------------

export type ReplyLine =
  | { readonly kind: 'data'; readonly tag: number; readonly data: string }
  | { readonly kind: 'ok'; readonly tag: number; readonly text: string }
  | { readonly kind: 'err'; readonly tag: number; readonly code: number; readonly name: string; readonly text: string }
  /** Unsolicited: `* <EVENT> [args]`. An untagged `* ERR 1 SYNTAX …` arrives as event kind `ERR`. */
  | { readonly kind: 'event'; readonly event: RobotEvent }
  | { readonly kind: 'malformed'; readonly tag: number | null; readonly reason: string };

export function formatData(tag: number, data: string): string {
  return `${tag}-${data}`;
}

export function formatOk(tag: number, text = ''): string {
  return text === '' ? `${tag} OK` : `${tag} OK ${text}`;
}

/** `tag` null gives the untagged form `* ERR …` used when the request's tag could not be read. */
export function formatErr(tag: number | null, code: number, text: string): string {
  const name = robotErrorByCode(code)?.name ?? 'UNKNOWN';
  return `${tag ?? '*'} ERR ${code} ${name} ${sanitize(text)}`.slice(0, MAX_LINE_BYTES);
}

export function formatEvent(event: RobotEvent): string {
  return ['*', event.kind, ...event.args].join(' ');
}

/** Make free text safe to put on the wire: printable ASCII, no CR/LF. */
export function sanitize(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

export function parseReplyLine(line: string): ReplyLine {
  if (line.startsWith('* ')) {
    const words = line.slice(2).split(' ').filter((w) => w !== '');
    if (words.length === 0) return { kind: 'malformed', tag: null, reason: 'event line without an event name' };
    return { kind: 'event', event: { kind: words[0]!, args: words.slice(1) } };
  }
  const m = /^([0-9]{1,8})([ -])(.*)$/.exec(line);
  if (m === null) return { kind: 'malformed', tag: null, reason: `not a reply line: "${line.slice(0, 32)}"` };
  const tag = Number(m[1]);
  const rest = m[3]!;
  if (m[2] === '-') return { kind: 'data', tag, data: rest };
  if (rest === 'OK') return { kind: 'ok', tag, text: '' };
  if (rest.startsWith('OK ')) return { kind: 'ok', tag, text: rest.slice(3) };
  const e = /^ERR ([0-9]{1,3}) ([A-Z_]+)(?: (.*))?$/.exec(rest);
  if (e !== null) return { kind: 'err', tag, code: Number(e[1]), name: e[2]!, text: e[3] ?? '' };
  return { kind: 'malformed', tag, reason: `expected OK or ERR after tag, got "${rest.slice(0, 32)}"` };
}

// --- INVENTORY and STATUS payloads ------------------------------------------------------------

/**
 * `S3 EMPTY`, `S1 FULL TS0001L9`, and for a drive the element its cartridge
 * came from, as SCSI changers report a "source element": `D1 FULL TS0001L9 S1`.
 */
export function formatInventoryLine(status: ElementStatus): string {
  const at = formatElement(status.address);
  if (status.label === null) return `${at} EMPTY`;
  return status.source ? `${at} FULL ${status.label} ${formatElement(status.source)}` : `${at} FULL ${status.label}`;
}

function malformed(message: string, context: Record<string, unknown> = {}): TapestryError {
  return new TapestryError('MALFORMED', message, { context });
}

/**
 * Build a RobotInventory from INVENTORY data lines. Elements are listed in
 * index order per kind; a gap or duplicate means the reply is corrupt.
 */
export function parseInventory(lines: readonly string[]): RobotInventory {
  const byKind: Record<ElementKind, ElementStatus[]> = { slot: [], drive: [], mailslot: [] };
  for (const line of lines) {
    const m = /^(\S+) (?:(EMPTY)|FULL (\S+)(?: (\S+))?)$/.exec(line);
    const addr = m === null ? null : parseElement(m[1]!);
    const source = m?.[4] === undefined ? null : parseElement(m[4]);
    if (m === null || addr === null || (m[4] !== undefined && source === null)) throw malformed(`bad INVENTORY line "${line.slice(0, 64)}"`, { line });
    const label = m[2] === 'EMPTY' ? null : m[3]!;
    if (label !== null && !isValidLabel(label)) throw malformed(`bad label in INVENTORY line "${line.slice(0, 64)}"`, { line });
    const list = byKind[addr.kind];
    if (addr.index !== list.length + 1) throw malformed(`INVENTORY element ${formatElement(addr)} out of order`, { line });
    list.push(source === null ? { address: addr, label } : { address: addr, label, source });
  }
  return { slots: byKind.slot, drives: byKind.drive, mailslots: byKind.mailslot };
}

const STATE_WORD: Record<RobotState, string> = { ready: 'READY', busy: 'BUSY', jammed: 'JAMMED' };

export function formatStatus(status: RobotStatus): string {
  return `${STATE_WORD[status.state]} SLOTS=${status.slots} DRIVES=${status.drives} MAILSLOTS=${status.mailslots}`;
}

export function parseStatus(text: string): RobotStatus {
  const m = /^(READY|BUSY|JAMMED) SLOTS=([0-9]{1,6}) DRIVES=([0-9]{1,6}) MAILSLOTS=([0-9]{1,6})$/.exec(text);
  if (m === null) throw malformed(`bad STATUS reply "${text.slice(0, 64)}"`, { text });
  const state = m[1]!.toLowerCase() as RobotState;
  return { state, slots: Number(m[2]), drives: Number(m[3]), mailslots: Number(m[4]) };
}

/** The mail slot number in an EJECT reply (`I3`). */
export function parseEjectReply(text: string): number {
  const e = parseElement(text);
  if (e === null || e.kind !== 'mailslot') throw malformed(`bad EJECT reply "${text.slice(0, 64)}", expected I<n>`, { text });
  return e.index;
}

// --- mail slot events -------------------------------------------------------------------------

/** `* MAILSLOT CLOSED I1=TS0021L9 I2=EMPTY …` args: the contents after the operator closed the door. */
export function formatMailslotContents(contents: readonly (string | null)[]): string[] {
  return contents.map((label, i) => `I${i + 1}=${label ?? 'EMPTY'}`);
}

export type MailslotEvent =
  | { readonly state: 'opened' }
  | { readonly state: 'closed'; readonly contents: ReadonlyMap<number, string | null> };

/** Decode a MAILSLOT event (the library manager reacts to CLOSED); null for other events. */
export function parseMailslotEvent(event: RobotEvent): MailslotEvent | null {
  if (event.kind !== 'MAILSLOT') return null;
  if (event.args[0] === 'OPENED') return { state: 'opened' };
  if (event.args[0] !== 'CLOSED') return null;
  const contents = new Map<number, string | null>();
  for (const arg of event.args.slice(1)) {
    const m = /^I([1-9][0-9]{0,5})=(\S+)$/.exec(arg);
    if (m === null) throw malformed(`bad MAILSLOT CLOSED argument "${arg.slice(0, 64)}"`, { arg });
    contents.set(Number(m[1]), m[2] === 'EMPTY' ? null : m[2]!);
  }
  return { state: 'closed', contents };
}
