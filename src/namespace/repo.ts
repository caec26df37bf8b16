import type { Queryable } from '../db/pool.ts';
import { iso } from '../db/rows.ts';
import type { TagName, TagValues } from './tags.ts';

/** The root directory's id (migration 0001 inserts it). */
export const ROOT_DIR_ID = 1;

export interface DirRow {
  readonly id: number;
  /** 0 for the root, 1 for its children, ... */
  readonly depth: number;
  readonly name: string;
  readonly owner: string;
  readonly group: string;
  readonly mode: number;
  readonly tags: TagValues;
  readonly createdAt: string;
  readonly updatedAt: string;
}

interface RawDir {
  id: number;
  depth: number;
  name: string;
  owner: string;
  group: string;
  mode: number;
  tags: TagValues;
  created_at: Date;
  updated_at: Date;
}

const toDir = (r: RawDir): DirRow => ({
  id: r.id, depth: r.depth, name: r.name, owner: r.owner, group: r.group, mode: r.mode, tags: r.tags,
  createdAt: iso(r.created_at), updatedAt: iso(r.updated_at),
});

/**
 * The directories along `components`, root first, as far as they exist: one
 * round trip for a whole path. The path exists when the result has
 * `components.length + 1` rows.
 */
export async function walkPath(db: Queryable, components: readonly string[]): Promise<DirRow[]> {
  const { rows } = await db.query<RawDir>(
    `WITH RECURSIVE walk AS (
       SELECT d.*, 0 AS depth FROM namespace_dirs d WHERE d.id = $2
       UNION ALL
       SELECT d.*, w.depth + 1 FROM walk w
       JOIN namespace_dirs d ON d.parent_id = w.id AND d.name = ($1::text[])[w.depth + 1]
       WHERE w.depth < cardinality($1::text[])
     )
     SELECT id, depth, name, owner, "group", mode, tags, created_at, updated_at FROM walk ORDER BY depth`,
    [components, ROOT_DIR_ID],
  );
  return rows.map(toDir);
}

/**
 * Lock a directory row for the rest of the transaction. Creating a directory
 * takes it FOR UPDATE, creating a file FOR SHARE (shareDirForNewFile): file
 * creations in one directory run side by side, but never race a mkdir of the
 * same name.
 */
export async function lockDirForUpdate(db: Queryable, id: number): Promise<void> {
  await db.query('SELECT 1 FROM namespace_dirs WHERE id = $1 FOR UPDATE', [id]);
}

/** Create `name` in `parentId` unless it exists; `created` says which. Safe under concurrent mkdir -p. */
export async function insertDir(
  db: Queryable,
  parentId: number,
  name: string,
  attrs: { owner: string; group: string; mode: number; at: Date },
): Promise<{ id: number; created: boolean }> {
  const ins = await db.query<{ id: number }>(
    `INSERT INTO namespace_dirs (parent_id, name, owner, "group", mode, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
     ON CONFLICT (coalesce(parent_id, 0), name) DO NOTHING RETURNING id`,
    [parentId, name, attrs.owner, attrs.group, attrs.mode, attrs.at],
  );
  if (ins.rows[0]) return { id: ins.rows[0].id, created: true };
  const { rows } = await db.query<{ id: number }>('SELECT id FROM namespace_dirs WHERE parent_id = $1 AND name = $2', [parentId, name]);
  return { id: rows[0]!.id, created: false };
}

/**
 * Lock directory `parentId` FOR SHARE (a file is being created in it, see
 * lockDir) and say whether it has a sub-directory `name` — one round trip,
 * as every new file makes it.
 */
export async function shareDirForNewFile(db: Queryable, parentId: number, name: string): Promise<{ childDirExists: boolean }> {
  const { rows } = await db.query<{ taken: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM namespace_dirs c WHERE c.parent_id = d.id AND c.name = $2) AS taken
       FROM namespace_dirs d WHERE d.id = $1 FOR SHARE OF d`,
    [parentId, name],
  );
  return { childDirExists: rows[0]?.taken === true };
}

/** A file as the namespace shows it (the live row of a path). */
export interface NsFileRow {
  readonly bfid: string;
  readonly name: string;
  readonly path: string;
  readonly state: 'writing' | 'active' | 'deleted';
  readonly size: number;
  readonly owner: string;
  readonly uid: number;
  readonly gid: number;
  readonly volume: string | null;
  readonly fileNo: number | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

interface RawFile {
  bfid: string;
  name: string;
  ns_path: string;
  state: NsFileRow['state'];
  size: number;
  owner: string;
  uid: number;
  gid: number;
  label: string | null;
  file_no: number | null;
  created_at: Date;
  updated_at: Date;
}

const toFile = (r: RawFile): NsFileRow => ({
  bfid: r.bfid, name: r.name, path: r.ns_path, state: r.state, size: r.size, owner: r.owner, uid: r.uid, gid: r.gid,
  volume: r.label, fileNo: r.file_no, createdAt: iso(r.created_at), updatedAt: iso(r.updated_at),
});

// "Live" = the row that owns its path: not deleted, not an abandoned write.
const LIVE = `f.state <> 'deleted' AND f.abandoned_at IS NULL`;
const FILE_COLUMNS = `f.bfid, f.name, f.ns_path, f.state, f.size, f.owner, f.uid, f.gid, v.label, f.file_no, f.created_at, f.updated_at`;

export async function liveFileByPath(db: Queryable, path: string): Promise<NsFileRow | null> {
  const { rows } = await db.query<RawFile>(
    `SELECT ${FILE_COLUMNS} FROM files f LEFT JOIN volumes v ON v.id = f.volume_id WHERE f.ns_path = $1 AND ${LIVE}`,
    [path],
  );
  return rows[0] ? toFile(rows[0]) : null;
}

export async function liveFileInDir(db: Queryable, dirId: number, name: string): Promise<NsFileRow | null> {
  const { rows } = await db.query<RawFile>(
    `SELECT ${FILE_COLUMNS} FROM files f LEFT JOIN volumes v ON v.id = f.volume_id WHERE f.dir_id = $1 AND f.name = $2 AND ${LIVE}`,
    [dirId, name],
  );
  return rows[0] ? toFile(rows[0]) : null;
}

/** Sub-directories and live files of a directory, each sorted by name. */
export async function listDir(db: Queryable, dirId: number): Promise<{ dirs: DirRow[]; files: NsFileRow[] }> {
  const [dirs, files] = await Promise.all([
    db.query<RawDir>(
      `SELECT id, 0 AS depth, name, owner, "group", mode, tags, created_at, updated_at FROM namespace_dirs WHERE parent_id = $1 ORDER BY name`,
      [dirId],
    ),
    db.query<RawFile>(
      `SELECT ${FILE_COLUMNS} FROM files f LEFT JOIN volumes v ON v.id = f.volume_id WHERE f.dir_id = $1 AND ${LIVE} ORDER BY f.name`,
      [dirId],
    ),
  ]);
  return { dirs: dirs.rows.map(toDir), files: files.rows.map(toFile) };
}

/** Set (value) or remove (null) one tag of a directory. */
export async function setDirTag(db: Queryable, dirId: number, tag: TagName, value: string | null, at: Date): Promise<void> {
  await db.query(
    value === null
      ? `UPDATE namespace_dirs SET tags = tags - $2::text, updated_at = $3 WHERE id = $1`
      : `UPDATE namespace_dirs SET tags = tags || jsonb_build_object($2::text, $4::text), updated_at = $3 WHERE id = $1`,
    value === null ? [dirId, tag, at] : [dirId, tag, at, value],
  );
}

export async function libraryNames(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>('SELECT name FROM libraries ORDER BY name');
  return rows.map((r) => r.name);
}

/**
 * active → deleted (Enstore's deleted=y). The row and its tape position stay;
 * the volume's counters move from active to deleted by trigger, in the same
 * statement. Null when the file is not active.
 */
export async function markFileDeleted(db: Queryable, bfid: string, at: Date): Promise<{ bfid: string; path: string } | null> {
  const { rows } = await db.query<{ bfid: string; ns_path: string }>(
    `UPDATE files SET state = 'deleted', deleted_at = $2, updated_at = $2 WHERE bfid = $1 AND state = 'active' RETURNING bfid, ns_path`,
    [bfid, at],
  );
  return rows[0] ? { bfid: rows[0].bfid, path: rows[0].ns_path } : null;
}
