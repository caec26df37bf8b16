/**
 * Facts derived once per decision from a `SchedulerInput`: which volumes are at
 * movers, how many drives each storage group holds, which (volume, mover)
 * pairs are suspect, what the library state lets through. Shared by the
 * Enstore-style scheduler and the FIFO baseline.
 */
import { dispatchAllowed } from './library-state.ts';
import type {
  MountedVolume,
  MoverView,
  QueuedRequest,
  ReadRequest,
  RequestKind,
  SchedulerInput,
  WriteRequest,
} from './types.ts';

/** The volume family key `storage_group.file_family.wrapper` (Enstore's volume_family). */
export function volumeFamily(storageGroup: string, fileFamily: string, wrapper: string): string {
  return `${storageGroup}.${fileFamily}.${wrapper}`;
}

export function familyOf(w: WriteRequest): string {
  return volumeFamily(w.storageGroup, w.fileFamily, w.wrapper);
}

/** The queue key: the volume label for reads, the volume family for writes. */
export function requestKey(r: QueuedRequest): string {
  return r.kind === 'read' ? r.volumeLabel : familyOf(r);
}

/** A volume at a mover, with the mover that holds it. */
export interface VolumeAtMover {
  readonly mover: MoverView;
  readonly volume: MountedVolume;
}

/** A write fits a volume when it leaves the volume clerk's 5 % margin. */
export function writeFits(volume: MountedVolume, size: number): boolean {
  return volume.remainingBytes === undefined || size * 1.05 <= volume.remainingBytes;
}

export class Facts {
  readonly now: number;
  /** Requests waiting for a mover (state `queued`), in input order. */
  readonly queued: readonly QueuedRequest[];
  /** Volume label → the mover that has it (in the drive, mounting, or assigned a read of it). */
  readonly busyVolumes = new Map<string, string>();
  readonly volumesAtMovers: VolumeAtMover[] = [];
  /** Writes assigned to a mover that has no volume yet, per family: each will take one. */
  private readonly pendingWrites = new Map<string, number>();
  private readonly sgDrives = new Map<string, number>();
  private readonly suspects: Set<string>;

  constructor(readonly input: SchedulerInput) {
    this.now = input.now;
    this.queued = input.requests.filter((r) => r.state === 'queued');
    this.suspects = new Set(input.suspects.map((s) => pairKey(s.volume, s.mover)));
    const byName = new Map(input.movers.map((m) => [m.name, m]));
    for (const m of input.movers) {
      if (m.volume === undefined) continue;
      this.busyVolumes.set(m.volume.label, m.name);
      this.volumesAtMovers.push({ mover: m, volume: m.volume });
      this.bump(this.sgDrives, m.volume.storageGroup);
    }
    // Work handed to a mover before it reported a volume still holds a drive (and, for a
    // write, a unit of width), so a second idle mover cannot be given the same slot.
    for (const r of input.requests) {
      if (r.state === 'queued' || r.mover === undefined || byName.get(r.mover)?.volume !== undefined) continue;
      this.bump(this.sgDrives, r.storageGroup);
      if (r.kind === 'read') this.busyVolumes.set(r.volumeLabel, r.mover);
      else this.bump(this.pendingWrites, familyOf(r));
    }
  }

  mover(name: string): MoverView | undefined {
    return this.input.movers.find((m) => m.name === name);
  }

  isSuspect(volume: string, mover: string): boolean {
    return this.suspects.size > 0 && this.suspects.has(pairKey(volume, mover));
  }

  /** Volumes this mover failed on: the volume clerk must not hand it any of them. */
  suspectVolumesOf(mover: string): string[] {
    return this.input.suspects.filter((s) => s.mover === mover).map((s) => s.volume);
  }

  /** Drives a storage group holds now (fair share). */
  drivesHeld(storageGroup: string): number {
    return this.sgDrives.get(storageGroup) ?? 0;
  }

  pendingWritesOf(family: string): number {
    return this.pendingWrites.get(family) ?? 0;
  }

  /** Whether any mover other than `except` is idle and could take work. */
  anotherMoverIdle(except: string): boolean {
    return this.input.movers.some((m) => m.name !== except && m.state === 'idle' && m.volume === undefined);
  }

  allowed(kind: RequestKind): boolean {
    return dispatchAllowed(this.input.libraryState, kind);
  }

  /** Queued reads of one volume. */
  readsOf(label: string): ReadRequest[] {
    const out: ReadRequest[] = [];
    for (const r of this.queued) if (r.kind === 'read' && r.volumeLabel === label) out.push(r);
    return out;
  }

  /** Queued writes of one volume family. */
  writesOf(family: string): WriteRequest[] {
    const out: WriteRequest[] = [];
    for (const r of this.queued) if (r.kind === 'write' && familyOf(r) === family) out.push(r);
    return out;
  }

  private bump(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }
}

function pairKey(volume: string, mover: string): string {
  return `${volume}\u0000${mover}`;
}
