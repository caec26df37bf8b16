import type pg from 'pg';
import type { Queryable } from '../db/pool.ts';
import { withTransaction } from '../db/tx.ts';
import { TapestryError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';
import type { Clock } from '../time/clock.ts';
import { joinComponents, parsePath, splitParent, type NsPath } from './paths.ts';
import * as repo from './repo.ts';
import type { DirRow, NsFileRow } from './repo.ts';
import { builtinDefaults, checkTagName, resolveTags, TAG_NAMES, validateTag, type ResolvedTags, type TagName } from './tags.ts';

export interface NamespaceServiceDeps {
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly log: Logger;
}

export interface DirEntry {
  readonly kind: 'dir';
  readonly name: string;
  readonly path: string;
  readonly owner: string;
  readonly group: string;
  readonly mode: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface FileEntry extends Omit<NsFileRow, 'name'> {
  readonly kind: 'file';
  readonly name: string;
}

export type NsEntry = DirEntry | FileEntry;

export interface Listing {
  /** The path listed; for a file, `entries` holds that one file (like `ls file`). */
  readonly path: string;
  readonly kind: 'dir' | 'file';
  readonly entries: NsEntry[];
}

export interface TagView {
  readonly tag: TagName;
  /** Null when neither the directory, an ancestor nor a default sets it. */
  readonly value: string | null;
  /** The directory that sets the value; null for a built-in default or an unset tag. */
  readonly origin: string | null;
  /** Where the value comes from, for people: set here, inherited, built-in default, or unset. */
  readonly source: 'here' | 'inherited' | 'default' | 'unset';
}

/** The directory a new file goes into, resolved inside the caller's transaction. */
export interface NewFileDir {
  readonly dirId: number;
  readonly dirPath: string;
  readonly name: string;
  readonly tags: ResolvedTags;
}

const dirEntry = (path: string, d: DirRow): DirEntry => ({
  kind: 'dir', name: d.name, path, owner: d.owner, group: d.group, mode: d.mode, createdAt: d.createdAt, updatedAt: d.updatedAt,
});
const fileEntry = (f: NsFileRow): FileEntry => ({ kind: 'file', ...f });

/**
 * The namespace (DESIGN §4): directories with inherited tags, and the path view
 * of the file rows. Files are created and activated by the file clerk; `ns rm`
 * marks an active file deleted here, leaving its row and tape position.
 */
export class NamespaceService {
  constructor(private readonly deps: NamespaceServiceDeps) {}

  private now(): Date {
    return new Date(this.deps.clock.now());
  }

  /** The directory rows from the root to `p`, or NOT_FOUND naming the first missing one. */
  private async requireDir(db: Queryable, p: NsPath): Promise<DirRow[]> {
    const chain = await repo.walkPath(db, p.components);
    if (chain.length === p.components.length + 1) return chain;
    const missing = joinComponents(p.components.slice(0, chain.length));
    const file = await repo.liveFileByPath(db, missing);
    if (file) throw new TapestryError('USERERROR', `${missing} is a file, not a directory`, { context: { path: missing } });
    throw new TapestryError('NOT_FOUND', `directory ${missing} does not exist`, { context: { path: missing } });
  }

  private async resolve(db: Queryable, p: NsPath, chain: readonly DirRow[]): Promise<ResolvedTags> {
    const defaults = builtinDefaults(await repo.libraryNames(db));
    return resolveTags(chain.map((d, i) => ({ path: joinComponents(p.components.slice(0, i)), tags: d.tags })), defaults);
  }

  /** `mkdir [-p]`: without parents the parent must exist and the directory must not. */
  async mkdir(path: string, options: { parents?: boolean; owner?: string; group?: string; mode?: number } = {}): Promise<DirEntry & { created: string[] }> {
    const p = parsePath(path);
    const attrs = { owner: options.owner ?? 'root', group: options.group ?? 'root', mode: options.mode ?? 0o755, at: this.now() };
    const result = await withTransaction(this.deps.pool, async (tx) => {
      const chain = await repo.walkPath(tx, p.components);
      if (chain.length === p.components.length + 1) {
        if (options.parents) return { created: [] as string[], dir: chain.at(-1)! };
        throw new TapestryError('EXISTS', `directory ${p.path} already exists`, { context: { path: p.path } });
      }
      if (!options.parents && chain.length < p.components.length) {
        const parent = joinComponents(p.components.slice(0, -1));
        throw new TapestryError('NOT_FOUND', `parent directory ${parent} does not exist (use -p to create it)`, { context: { path: parent } });
      }
      const created: string[] = [];
      let parentId = chain.at(-1)!.id;
      for (let i = chain.length - 1; i < p.components.length; i++) {
        const name = p.components[i]!;
        const here = joinComponents(p.components.slice(0, i + 1));
        await repo.lockDirForUpdate(tx, parentId);
        if (await repo.liveFileInDir(tx, parentId, name)) {
          throw new TapestryError('EXISTS', `${here} exists and is a file`, { context: { path: here } });
        }
        const dir = await repo.insertDir(tx, parentId, name, attrs);
        if (dir.created) created.push(here);
        else if (!options.parents && i === p.components.length - 1) throw new TapestryError('EXISTS', `directory ${p.path} already exists`, { context: { path: p.path } });
        parentId = dir.id;
      }
      const final = await repo.walkPath(tx, p.components);
      return { created, dir: final.at(-1)! };
    });
    if (result.created.length > 0) this.deps.log.info({ event: 'ns.mkdir', path: p.path, created: result.created });
    return { ...dirEntry(p.path, result.dir), created: result.created };
  }

  /** `ls`: a directory's sub-directories and live files, or one file. */
  async list(path: string): Promise<Listing> {
    const p = parsePath(path);
    const db = this.deps.pool;
    const chain = await repo.walkPath(db, p.components);
    if (chain.length === p.components.length + 1) {
      const { dirs, files } = await repo.listDir(db, chain.at(-1)!.id);
      const child = (name: string): string => joinComponents([...p.components, name]);
      const entries: NsEntry[] = [...dirs.map((d) => dirEntry(child(d.name), d)), ...files.map(fileEntry)];
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return { path: p.path, kind: 'dir', entries };
    }
    const file = await repo.liveFileByPath(db, p.path);
    if (file) return { path: p.path, kind: 'file', entries: [fileEntry(file)] };
    throw new TapestryError('NOT_FOUND', `no such file or directory: ${p.path}`, { context: { path: p.path } });
  }

  /** The entry of one path: a directory or a live file. */
  async stat(path: string): Promise<NsEntry> {
    const p = parsePath(path);
    const chain = await repo.walkPath(this.deps.pool, p.components);
    if (chain.length === p.components.length + 1) return dirEntry(p.path, chain.at(-1)!);
    const file = await repo.liveFileByPath(this.deps.pool, p.path);
    if (file) return fileEntry(file);
    throw new TapestryError('NOT_FOUND', `no such file or directory: ${p.path}`, { context: { path: p.path } });
  }

  /**
   * `ns rm`: an active file becomes deleted (the tape keeps its bytes, the row
   * keeps its position, the volume counters move by trigger). A file still
   * being written is refused: its transfer is abandoned through the file clerk.
   */
  async removeFile(path: string): Promise<{ bfid: string; path: string; state: 'deleted'; volume: string | null; fileNo: number | null }> {
    const p = parsePath(path);
    return withTransaction(this.deps.pool, async (tx) => {
      const file = await repo.liveFileByPath(tx, p.path);
      if (!file) {
        const chain = await repo.walkPath(tx, p.components);
        if (chain.length === p.components.length + 1) throw new TapestryError('USERERROR', `${p.path} is a directory; ns rm removes files`, { context: { path: p.path } });
        throw new TapestryError('NO_SUCH_FILE', `no file ${p.path}`, { context: { path: p.path } });
      }
      if (file.state === 'writing') {
        throw new TapestryError('CONFLICT', `${p.path} is still being written (bfid ${file.bfid}); if that transfer is dead, run tapestry file abandon ${file.bfid}`, {
          context: { path: p.path, bfid: file.bfid },
        });
      }
      const done = await repo.markFileDeleted(tx, file.bfid, this.now());
      if (!done) throw new TapestryError('CONFLICT', `${p.path} changed while being removed; try again`, { context: { path: p.path } });
      this.deps.log.info({ event: 'ns.file_deleted', path: p.path, bfid: file.bfid, volume: file.volume, fileNo: file.fileNo });
      return { bfid: file.bfid, path: p.path, state: 'deleted' as const, volume: file.volume, fileNo: file.fileNo };
    });
  }

  /** Set one tag on a directory (USERERROR for an unknown tag or an illegal value). */
  async tagSet(dir: string, tag: string, value: string): Promise<TagView> {
    const p = parsePath(dir);
    const libraries = new Set(await repo.libraryNames(this.deps.pool));
    const checked = validateTag(tag, value, libraries);
    await withTransaction(this.deps.pool, async (tx) => {
      const chain = await this.requireDir(tx, p);
      await repo.setDirTag(tx, chain.at(-1)!.id, checked.tag, checked.value, this.now());
    });
    this.deps.log.info({ event: 'ns.tag_set', path: p.path, tag: checked.tag, value: checked.value });
    return this.tagGet(p.path, checked.tag);
  }

  /** Remove a tag from a directory, so it inherits the value again. */
  async tagUnset(dir: string, tag: string): Promise<TagView> {
    const p = parsePath(dir);
    const name = checkTagName(tag);
    await withTransaction(this.deps.pool, async (tx) => {
      const chain = await this.requireDir(tx, p);
      await repo.setDirTag(tx, chain.at(-1)!.id, name, null, this.now());
    });
    this.deps.log.info({ event: 'ns.tag_unset', path: p.path, tag: name });
    return this.tagGet(p.path, name);
  }

  async tagGet(dir: string, tag: string): Promise<TagView> {
    const name = checkTagName(tag);
    const all = await this.tagList(dir);
    return all.tags.find((t) => t.tag === name)!;
  }

  /** Every tag of a directory with its effective value and where it comes from. */
  async tagList(dir: string): Promise<{ path: string; tags: TagView[] }> {
    const p = parsePath(dir);
    const chain = await this.requireDir(this.deps.pool, p);
    const resolved = await this.resolve(this.deps.pool, p, chain);
    const tags = TAG_NAMES.map((tag): TagView => {
      const r = resolved[tag];
      if (!r) return { tag, value: null, origin: null, source: 'unset' };
      return { tag, value: r.value, origin: r.origin, source: r.origin === null ? 'default' : r.origin === p.path ? 'here' : 'inherited' };
    });
    return { path: p.path, tags };
  }

  /**
   * For the file clerk, inside its transaction: the directory a new file at
   * `path` goes into, share-locked so no mkdir of the same name can race the
   * insert, and its effective tags. NOT_FOUND when the directory is missing,
   * EXISTS when the name is a directory.
   */
  async dirForNewFile(db: Queryable, path: NsPath): Promise<NewFileDir> {
    const { parent, name } = splitParent(path);
    const chain = await this.requireDir(db, parent);
    const dir = chain.at(-1)!;
    if ((await repo.shareDirForNewFile(db, dir.id, name)).childDirExists) {
      throw new TapestryError('EXISTS', `${path.path} exists and is a directory`, { context: { path: path.path } });
    }
    return { dirId: dir.id, dirPath: parent.path, name, tags: await this.resolve(db, parent, chain) };
  }
}

