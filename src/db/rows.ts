/** Timestamps leave the repositories as ISO strings: JSON, logs and tables all want text. */
export function isoOrNull(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}

export function iso(value: Date): string {
  return value.toISOString();
}

/** SQLSTATE of a unique violation, and the constraint (index) it names. */
export function uniqueViolation(err: unknown): string | null {
  const e = err as { code?: unknown; constraint?: unknown };
  return e?.code === '23505' ? String(e.constraint ?? '') : null;
}
