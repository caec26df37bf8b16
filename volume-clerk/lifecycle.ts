import { TapestryError } from '../src/errors/index.ts';
import type { InhibitPair } from './inhibits.ts';

/**
 * The volume lifecycle rules (reference/enstore.md §6 `enstore vol --delete,
 * --restore, --recycle, --erase, --assign-sg`; acceptance scenario 24). Pure:
 * the service feeds a volume and the counts of its file rows, and applies the
 * answer in one transaction with the volume row locked.
 */

/**
 * A deleted volume keeps its row under `LABEL.deleted` (system access
 * DELETED), so the physical cartridge can be declared again under its own
 * label while the catalogue still knows the deleted one.
 */
export const DELETED_SUFFIX = '.deleted';

export const isDeletedLabel = (label: string): boolean => label.endsWith(DELETED_SUFFIX);
export const deletedLabel = (label: string): string => label + DELETED_SUFFIX;
export const liveLabel = (label: string): string => (isDeletedLabel(label) ? label.slice(0, -DELETED_SUFFIX.length) : label);

/** What the rules need to know about a volume. */
export interface LifecycleVolume {
  readonly label: string;
  readonly eodFileNo: number | null;
  readonly fileFamily: string;
  readonly wrapper: string;
  readonly storageGroup: string;
  readonly systemInhibit: InhibitPair;
  readonly userInhibit: { readonly access: string; readonly state: string };
  readonly location: { readonly kind: string; readonly ref: string | null };
}

/** Counts over the file rows that point at the volume. */
export interface VolumeFileCounts {
  readonly active: number;
  /** Files being written now (`writing`, not abandoned). */
  readonly writing: number;
  /** Every row with a position on the volume: active, deleted, writing, abandoned. */
  readonly total: number;
}

const conflict = (v: LifecycleVolume, message: string): TapestryError => new TapestryError('CONFLICT', message, { context: { volume: v.label } });

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** A cartridge in a drive is in use: it may be written or read right now. */
function notMounted(v: LifecycleVolume, action: string): void {
  if (v.location.kind === 'drive') throw conflict(v, `cannot ${action} ${v.label}: it is in drive ${v.location.ref}; wait until it is dismounted`);
}

/** Every file on it deleted, none being written (Enstore: every file deleted=y). */
function noLiveFiles(v: LifecycleVolume, files: VolumeFileCounts, action: string): void {
  if (files.active > 0) throw conflict(v, `cannot ${action} ${v.label}: ${plural(files.active, 'active file')} on it; delete them first (\`tapestry ns rm\`, see \`tapestry volume files ${v.label}\`)`);
  if (files.writing > 0) throw conflict(v, `cannot ${action} ${v.label}: ${plural(files.writing, 'file')} being written to it`);
}

export type DeletePlan =
  /** Never written: nothing on tape refers to it, the row goes. */
  | { readonly action: 'remove' }
  /** Written: renamed LABEL.deleted with system access DELETED. */
  | { readonly action: 'rename'; readonly newLabel: string };

/**
 * `volume delete`: refused while any file on it is active or being written,
 * or while it is in a drive. A volume that was never written is removed; a
 * written one becomes `LABEL.deleted`.
 */
export function planDelete(v: LifecycleVolume, files: VolumeFileCounts): DeletePlan {
  if (isDeletedLabel(v.label) || v.systemInhibit.access === 'DELETED') throw conflict(v, `${v.label} is already deleted`);
  notMounted(v, 'delete');
  noLiveFiles(v, files, 'delete');
  if (v.eodFileNo === null && files.total === 0) return { action: 'remove' };
  return { action: 'rename', newLabel: deletedLabel(v.label) };
}

/** `volume restore LABEL.deleted`: only a deleted volume; it gets its label back. */
export function planRestore(v: LifecycleVolume): { readonly newLabel: string } {
  if (!isDeletedLabel(v.label) || v.systemInhibit.access !== 'DELETED') {
    throw new TapestryError('USERERROR', `only a deleted volume can be restored, and ${v.label} is not one (deleted volumes are named LABEL${DELETED_SUFFIX})`, { context: { volume: v.label } });
  }
  return { newLabel: liveLabel(v.label) };
}

/**
 * `volume recycle`: back to the blank pool of its storage group. Refused
 * while files are active or being written, while mounted, and while an access
 * inhibit (NOACCESS, NOTALLOWED) is set: a tape that failed must be looked at
 * before it takes new data. A deleted volume is recycled under its own label.
 */
export function planRecycle(v: LifecycleVolume, files: VolumeFileCounts): { readonly newLabel: string } {
  notMounted(v, 'recycle');
  noLiveFiles(v, files, 'recycle');
  for (const [who, access] of [['system', v.systemInhibit.access], ['user', v.userInhibit.access]] as const) {
    if (access === 'NOACCESS' || access === 'NOTALLOWED') {
      throw conflict(v, `cannot recycle ${v.label}: it is ${access} (${who} inhibit); find out why, then \`tapestry volume clear ${v.label} ${who} access\``);
    }
  }
  return { newLabel: liveLabel(v.label) };
}

/** `volume erase LABEL.deleted`: only deleted volumes (their files are all deleted), never while mounted. */
export function checkErase(v: LifecycleVolume): void {
  if (!isDeletedLabel(v.label) || v.systemInhibit.access !== 'DELETED') {
    throw new TapestryError('USERERROR', `only a deleted volume (LABEL${DELETED_SUFFIX}) can be erased; ${v.label} is not deleted (\`tapestry volume delete ${v.label}\` first)`, { context: { volume: v.label } });
  }
  notMounted(v, 'erase');
}

/** `volume assign-sg`: only a blank volume (no family, nothing written) changes storage group. */
export function checkAssignStorageGroup(v: LifecycleVolume, files: VolumeFileCounts): void {
  if (v.systemInhibit.access === 'DELETED') throw conflict(v, `${v.label} is deleted`);
  if (v.eodFileNo !== null || v.fileFamily !== 'none' || v.wrapper !== 'none' || files.total > 0) {
    throw conflict(v, `${v.label} is not blank (family ${v.storageGroup}.${v.fileFamily}.${v.wrapper}, ${v.eodFileNo === null ? 'nothing written' : `end of data at file ${v.eodFileNo}`}); only a blank volume can be given to a storage group (recycle it first)`);
  }
}
