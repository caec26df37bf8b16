import { TapestryError } from '../errors/index.ts';

/** The directory tags of Enstore's namespace (reference/enstore.md §5), inherited by sub-directories. */
export const TAG_NAMES = ['file_family', 'file_family_width', 'file_family_wrapper', 'library', 'storage_group'] as const;
export type TagName = (typeof TAG_NAMES)[number];
/** Tags as stored on one directory: strings, like Enstore's tag files. */
export type TagValues = Partial<Record<TagName, string>>;

/** On-tape wrappers this version writes; Enstore also knows `cern` and `null`. */
export const WRAPPERS: readonly string[] = ['cpio_odc'];
export const DEFAULT_WRAPPER = 'cpio_odc';
export const DEFAULT_STORAGE_GROUP = 'default';
export const MAX_WIDTH = 1000;
const NAME_RE = /^[-A-Za-z0-9_]+$/;
const MAX_NAME = 64;

export function isTagName(name: string): name is TagName {
  return (TAG_NAMES as readonly string[]).includes(name);
}

/** The tag name, or USERERROR listing the known ones. */
export function checkTagName(tag: string): TagName {
  if (!isTagName(tag)) throw new TapestryError('USERERROR', `unknown tag ${JSON.stringify(tag)} (tags: ${TAG_NAMES.join(', ')})`, { context: { tag } });
  return tag;
}

function illegal(tag: string, value: string, why: string): TapestryError {
  return new TapestryError('USERERROR', `illegal value ${JSON.stringify(value)} for tag ${tag}: ${why}`, { context: { tag, value } });
}

/**
 * A family or storage-group name: letters, digits, `-`, `_` (the volume family
 * is `sg.ff.wrapper`, so no dots), and never `none`, which marks blank pools.
 */
export function validateName(tag: string, value: string): string {
  if (!NAME_RE.test(value)) throw illegal(tag, value, 'only letters, digits, "-" and "_" are allowed');
  if (value.length > MAX_NAME) throw illegal(tag, value, `longer than ${MAX_NAME} characters`);
  if (value === 'none') throw illegal(tag, value, '"none" is reserved for blank volumes');
  return value;
}

export function validateWidth(value: string | number, tag = 'file_family_width'): number {
  const text = String(value).trim();
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_WIDTH) throw illegal(tag, String(value), `must be a whole number from 1 to ${MAX_WIDTH}`);
  return n;
}

/**
 * Check one tag value; returns the value to store (a width is stored without
 * leading zeros). `libraries` are the names a `library` tag may take.
 */
export function validateTag(name: string, value: string, libraries: ReadonlySet<string>): { tag: TagName; value: string } {
  const tag = checkTagName(name);
  switch (tag) {
    case 'file_family':
    case 'storage_group':
      return { tag, value: validateName(tag, value) };
    case 'file_family_width':
      return { tag, value: String(validateWidth(value)) };
    case 'file_family_wrapper':
      if (!WRAPPERS.includes(value)) throw illegal(tag, value, `supported wrappers: ${WRAPPERS.join(', ')}`);
      return { tag, value };
    case 'library':
      if (!libraries.has(value)) throw illegal(tag, value, `no such library (known: ${[...libraries].sort().join(', ') || 'none'})`);
      return { tag, value };
  }
}

/**
 * Values a directory tree has before anyone tags it: the cpio_odc wrapper,
 * width 1, the storage group `default`, and the library when there is only one.
 */
export function builtinDefaults(libraries: readonly string[]): TagValues {
  return {
    file_family_wrapper: DEFAULT_WRAPPER,
    file_family_width: '1',
    storage_group: DEFAULT_STORAGE_GROUP,
    ...(libraries.length === 1 ? { library: libraries[0]! } : {}),
  };
}

export interface DirTags {
  readonly path: string;
  readonly tags: TagValues;
}

export interface ResolvedTag {
  readonly value: string;
  /** The directory that sets the value; null for a built-in default. */
  readonly origin: string | null;
}

export type ResolvedTags = Partial<Record<TagName, ResolvedTag>>;

/**
 * Effective tags of the last directory of `chain` (root first): each tag comes
 * from the deepest directory that sets it, else from `defaults`.
 */
export function resolveTags(chain: readonly DirTags[], defaults: TagValues = {}): ResolvedTags {
  const out: ResolvedTags = {};
  for (const tag of TAG_NAMES) {
    const d = defaults[tag];
    if (d !== undefined) out[tag] = { value: d, origin: null };
  }
  for (const dir of chain) {
    for (const tag of TAG_NAMES) {
      const v = dir.tags[tag];
      if (typeof v === 'string') out[tag] = { value: v, origin: dir.path };
    }
  }
  return out;
}

/** What a new file needs from its directory's tags. */
export interface WriteTags {
  readonly fileFamily: string;
  readonly width: number;
  readonly wrapper: string;
  readonly library: string;
  readonly storageGroup: string;
}

/**
 * The tags a file written into `dir` gets, or USERERROR naming the missing tag
 * and how to set it.
 */
export function writeTagsOf(dir: string, resolved: ResolvedTags): WriteTags {
  const need = (tag: TagName): string => {
    const v = resolved[tag]?.value;
    if (v === undefined) {
      throw new TapestryError('USERERROR', `directory ${dir} has no ${tag} tag; set it with tapestry ns tag set ${dir} ${tag} <value>`, { context: { path: dir, tag } });
    }
    return v;
  };
  return {
    fileFamily: need('file_family'),
    width: validateWidth(need('file_family_width')),
    wrapper: need('file_family_wrapper'),
    library: need('library'),
    storageGroup: need('storage_group'),
  };
}
