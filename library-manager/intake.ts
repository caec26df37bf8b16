import { TapestryError } from '../src/errors/index.ts';
import type { LibraryManager, RequestView } from './service.ts';

/** The file clerk calls intake needs (injected: the file clerk owns the file rows). */
export interface IntakeFiles {
  createWritingFile(input: { path: string; size: number; uid?: number; gid?: number; owner?: string; overrides?: { fileFamily?: string; width?: number; storageGroup?: string } }): Promise<{
    bfid: string; path: string; size: number; library: string; storageGroup: string; fileFamily: string; wrapper: string; width: number;
  }>;
  fileInfo(pathOrBfid: string): Promise<{
    bfid: string; path: string; state: string; abandoned: boolean; size: number; crc: number | null; volume: string | null; fileNo: number | null; storageGroup: string; library: string;
  }>;
  abandonWriting(bfid: string): Promise<unknown>;
}

/** The volume clerk check that refuses reads of unavailable volumes before queueing. */
export interface IntakeVolumes {
  checkAvailable(label: string, mode: 'read'): Promise<unknown>;
}

export interface WriteSubmission {
  readonly uniqueId: string;
  readonly path: string;
  readonly size: number;
  readonly priority?: number;
  readonly maxRetry?: number;
  readonly dismountDelayMs?: number;
  readonly overrides?: { fileFamily?: string; width?: number; storageGroup?: string };
  readonly uid?: number;
  readonly gid?: number;
  readonly owner?: string;
  readonly clientHost?: string;
  /** `host:port` where encp listens for the mover (the receiving side opens the data connection). */
  readonly callback?: string;
}

export interface ReadSubmission {
  readonly uniqueId: string;
  /** Namespace path or bfid. */
  readonly file: string;
  readonly priority?: number;
  readonly maxRetry?: number;
  readonly dismountDelayMs?: number;
  readonly clientHost?: string;
}

export interface Ticket {
  readonly requestId: number;
  readonly uniqueId: string;
  readonly library: string;
  readonly kind: 'read' | 'write';
  readonly bfid: string;
  readonly path: string;
  readonly size: number;
  /** Reads: the catalogue's adler32 the data must match. */
  readonly crc: number | null;
  readonly volume: string | null;
  readonly fileNo: number | null;
  readonly duplicate: boolean;
}

/**
 * Request intake (Enstore's encp → LM ticket): creates the file's 'writing'
 * row for a write, refuses reads of unavailable volumes before queueing, then
 * queues in the library manager of the file's library.
 */
export class Intake {
  constructor(
    private readonly files: IntakeFiles,
    private readonly volumes: IntakeVolumes,
    private readonly managers: ReadonlyMap<string, LibraryManager>,
  ) {}

  private manager(library: string): LibraryManager {
    const lm = this.managers.get(library);
    if (!lm) throw new TapestryError('NOT_FOUND', `no library manager for library "${library}"`, { context: { library } });
    return lm;
  }

  async write(s: WriteSubmission): Promise<Ticket> {
    const file = await this.files.createWritingFile({ path: s.path, size: s.size, ...(s.overrides ? { overrides: s.overrides } : {}), ...(s.uid !== undefined ? { uid: s.uid } : {}), ...(s.gid !== undefined ? { gid: s.gid } : {}), ...(s.owner ? { owner: s.owner } : {}) });
    try {
      const { row, duplicate } = await this.manager(file.library).submit({
        uniqueId: s.uniqueId,
        library: file.library,
        kind: 'write',
        priority: s.priority ?? 1,
        admin: false,
        key: `${file.storageGroup}.${file.fileFamily}.${file.wrapper}`,
        size: file.size,
        bfid: file.bfid,
        storageGroup: file.storageGroup,
        fileFamily: file.fileFamily,
        wrapper: file.wrapper,
        width: file.width,
        maxRetry: s.maxRetry ?? 3,
        dismountDelayMs: s.dismountDelayMs ?? null,
        clientHost: s.clientHost ?? null,
        clientCallback: s.callback ?? null,
      });
      return { requestId: row.id, uniqueId: row.uniqueId, library: file.library, kind: 'write', bfid: row.bfid ?? file.bfid, path: file.path, size: file.size, crc: null, volume: null, fileNo: null, duplicate };
    } catch (err) {
      await this.files.abandonWriting(file.bfid).catch(() => undefined);
      throw err;
    }
  }

  async read(s: ReadSubmission): Promise<Ticket> {
    const file = await this.files.fileInfo(s.file);
    if (file.state !== 'active' || file.volume === null || file.fileNo === null || file.crc === null) {
      throw new TapestryError(file.state === 'deleted' ? 'DELETED' : 'CONFLICT', `${file.path} is ${file.state === 'writing' ? 'still being written' : file.state}; only active files can be read`, { context: { bfid: file.bfid, state: file.state } });
    }
    await this.volumes.checkAvailable(file.volume, 'read');
    const { row, duplicate } = await this.manager(file.library).submit({
      uniqueId: s.uniqueId,
      library: file.library,
      kind: 'read',
      priority: s.priority ?? 1,
      admin: false,
      key: file.volume,
      size: file.size,
      bfid: file.bfid,
      volumeLabel: file.volume,
      fileNo: file.fileNo,
      storageGroup: file.storageGroup,
      maxRetry: s.maxRetry ?? 3,
      dismountDelayMs: s.dismountDelayMs ?? null,
      clientHost: s.clientHost ?? null,
    });
    return { requestId: row.id, uniqueId: row.uniqueId, library: file.library, kind: 'read', bfid: file.bfid, path: file.path, size: file.size, crc: file.crc, volume: file.volume, fileNo: file.fileNo, duplicate };
  }

  /** The request's state; with `waitMs`, long-poll until it differs from `known`. */
  async status(library: string, id: number, known: { state?: string; token?: string }, waitMs: number): Promise<RequestView> {
    const lm = this.manager(library);
    const view = waitMs > 0 ? await lm.wait(id, known, waitMs) : await lm.view(id);
    if (!view) throw new TapestryError('NOT_FOUND', `no request ${id} in library ${library}`, { context: { id, library } });
    return view;
  }
}
