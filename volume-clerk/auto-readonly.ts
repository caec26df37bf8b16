/**
 * Automatic read-only (Enstore operators' "mark old tapes readonly" chore):
 * a written volume that nobody wrote to for a configured age is closed for
 * writes with a *system* readonly inhibit, so new files of its family start a
 * fresh tape and the old one can go to the shelf. Pure: the service feeds the
 * candidates and the clock's now, and applies the answer.
 */
export interface AutoReadonlyPolicy {
  readonly olderThanMs: number;
  /** file family → its own age. */
  readonly families: ReadonlyMap<string, number>;
}

export interface AutoReadonlyCandidate {
  readonly label: string;
  readonly fileFamily: string;
  /** When the newest file on it was created (epoch ms). */
  readonly newestFileAt: number;
}

export interface StaleVolume extends AutoReadonlyCandidate {
  /** The age that applied: the family's own, else the library's. */
  readonly olderThanMs: number;
  /** Files created at or after this (epoch ms) keep the volume open. */
  readonly cutoff: number;
}

export function ageFor(policy: AutoReadonlyPolicy, fileFamily: string): number {
  return policy.families.get(fileFamily) ?? policy.olderThanMs;
}

/** Volumes whose files are all older than their age (the newest strictly before now − age), by label. */
export function staleVolumes(candidates: readonly AutoReadonlyCandidate[], policy: AutoReadonlyPolicy, now: number): StaleVolume[] {
  return candidates
    .map((c) => {
      const olderThanMs = ageFor(policy, c.fileFamily);
      return { ...c, olderThanMs, cutoff: now - olderThanMs };
    })
    .filter((c) => c.newestFileAt < c.cutoff)
    .sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}

/** A duration the way the config writes it: 30d, 12h, 15min, 90s, 250ms. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['min', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
