import { TapestryError } from '../errors/index.ts';

/** Longest namespace path accepted (PATH_MAX on Linux). */
export const MAX_PATH_LENGTH = 4096;
/** Longest single name (NAME_MAX). */
export const MAX_NAME_LENGTH = 255;

export interface NsPath {
  /** Normalised form: `/` or `/a/b`, no trailing slash, no `.` components. */
  readonly path: string;
  /** The names from the root down; empty for `/`. */
  readonly components: readonly string[];
}

function illegal(raw: string, why: string): TapestryError {
  const shown = raw.length > 80 ? `${raw.slice(0, 77)}...` : raw;
  return new TapestryError('USERERROR', `illegal namespace path ${JSON.stringify(shown)}: ${why}`, { context: { path: shown } });
}

/**
 * Normalise an absolute namespace path. Accepted: one trailing slash and `.`
 * components (dropped). Refused (USERERROR): relative paths, `..` (the
 * namespace has no symbolic links; a path names one place), empty components
 * (`//`), control characters including NUL, names over 255 and paths over
 * 4096 characters.
 */
export function parsePath(raw: string): NsPath {
  if (typeof raw !== 'string' || raw.length === 0) throw illegal(String(raw), 'empty path');
  if (raw.length > MAX_PATH_LENGTH) throw illegal(raw, `longer than ${MAX_PATH_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw illegal(raw, raw.includes('\u0000') ? 'contains a NUL character' : 'contains a control character');
  if (!raw.startsWith('/')) throw illegal(raw, 'must be absolute (start with /)');
  if (raw === '/') return { path: '/', components: [] };
  const body = raw.endsWith('/') ? raw.slice(1, -1) : raw.slice(1);
  const components: string[] = [];
  for (const name of body.split('/')) {
    if (name === '') throw illegal(raw, 'empty component (//)');
    if (name === '..') throw illegal(raw, '".." is not allowed');
    if (name === '.') continue;
    if (name.length > MAX_NAME_LENGTH) throw illegal(raw, `a name is longer than ${MAX_NAME_LENGTH} characters`);
    components.push(name);
  }
  return { path: joinComponents(components), components };
}

export function joinComponents(components: readonly string[]): string {
  return '/' + components.join('/');
}

/** The parent directory and the last name of a path that is not the root. */
export function splitParent(p: NsPath): { parent: NsPath; name: string } {
  const name = p.components.at(-1);
  if (name === undefined) throw new TapestryError('USERERROR', 'the root directory "/" has no parent and cannot be a file');
  const components = p.components.slice(0, -1);
  return { parent: { path: joinComponents(components), components }, name };
}

