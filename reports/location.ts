import type { InhibitsView, LocationKind, LocationView } from './types.ts';

/**
 * Where a cartridge is, as an operator asks it ("is it in the library?"): a
 * slot, a drive and a mail slot are inside the robot; a shelf is outside;
 * `unknown` (a dismount that lost track of it) is neither.
 */
export function describeLocation(kind: LocationKind, ref: string | null): LocationView {
  switch (kind) {
    case 'slot':
      return { kind, ref, inLibrary: true, where: ref === null ? 'slot' : `slot ${ref}` };
    case 'drive':
      return { kind, ref, inLibrary: true, where: ref === null ? 'a drive' : `drive ${ref}` };
    case 'mailslot':
      return { kind, ref, inLibrary: true, where: ref === null ? 'mail slot' : `mail slot ${ref}` };
    case 'shelf':
      return { kind, ref, inLibrary: false, where: ref === null || ref === '' ? 'shelf' : `shelf (${ref})` };
    case 'unknown':
      return { kind, ref, inLibrary: null, where: 'unknown' };
  }
}

/** Any inhibit other than `none`, system or user, access or state (Enstore's `--pvols` minus plain full). */
export function anyInhibit(i: InhibitsView): boolean {
  return i.systemAccess !== 'none' || i.systemState !== 'none' || i.userAccess !== 'none' || i.userState !== 'none';
}

/** `[system access, system state] [user access, user state]`, as `tapestry volume list` prints them. */
export function formatInhibits(i: InhibitsView): string {
  return `[${i.systemAccess}, ${i.systemState}] [${i.userAccess}, ${i.userState}]`;
}
