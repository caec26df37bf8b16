import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import { TapestryError } from '../src/errors/index.ts';
import type { Intake } from './intake.ts';
import { openRequests, type RequestRow } from './queue-repo.ts';
import { suspectPairDetails } from './fault-repo.ts';
import type { LibraryManager } from './service.ts';

const errors = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } };
const uniqueId = { type: 'string', minLength: 8, maxLength: 128, pattern: '^[-A-Za-z0-9_.:]+$' } as const;
const common = {
  uniqueId,
  priority: { type: 'integer', minimum: 0, maximum: 1_000_000 },
  maxRetry: { type: 'integer', minimum: 0, maximum: 100 },
  dismountDelayMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
} as const;

const ticketSchema = {
  type: 'object',
  properties: {
    requestId: { type: 'integer' }, uniqueId: { type: 'string' }, library: { type: 'string' }, kind: { type: 'string' },
    bfid: { type: 'string' }, path: { type: 'string' }, size: { type: 'integer' }, crc: { type: ['integer', 'null'] },
    volume: { type: ['string', 'null'] }, fileNo: { type: ['integer', 'null'] }, duplicate: { type: 'boolean' },
  },
} as const;

const viewSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, uniqueId: { type: 'string' }, state: { type: 'string' }, kind: { type: 'string' }, attempts: { type: 'integer' },
    assignment: { type: ['object', 'null'], properties: { mover: { type: 'string' }, dataAddress: { type: 'string' }, token: { type: 'string' }, volume: { type: 'string' } } },
    result: { type: ['object', 'null'], additionalProperties: true },
    error: { type: ['object', 'null'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
} as const;

/** Transfer requests (encp's side of the library manager) and the queue report. */
export function requestRoutes(intake: Intake, managers: ReadonlyMap<string, LibraryManager>, pool: pg.Pool): FastifyPluginAsync {
  return async (app) => {
    await app.register(adminRoutes(managers, pool));

    app.post<{ Body: { kind: 'write'; uniqueId: string; path: string; size: number; priority?: number; maxRetry?: number; dismountDelayMs?: number; fileFamily?: string; fileFamilyWidth?: number; storageGroup?: string; uid?: number; gid?: number; owner?: string; callback?: string } | { kind: 'read'; uniqueId: string; file: string; priority?: number; maxRetry?: number; dismountDelayMs?: number } }>('/requests', {
      schema: {
        tags: ['transfers'],
        summary: 'Queue a write (creates the file entry) or a read of an active file; returns a ticket',
        body: {
          oneOf: [
            {
              type: 'object',
              required: ['kind', 'uniqueId', 'path', 'size'],
              additionalProperties: false,
              properties: {
                kind: { const: 'write' }, ...common, path: { type: 'string', minLength: 1, maxLength: 4096 }, size: { type: 'integer', minimum: 0 },
                fileFamily: { type: 'string' }, fileFamilyWidth: { type: 'integer' }, storageGroup: { type: 'string' },
                uid: { type: 'integer', minimum: 0 }, gid: { type: 'integer', minimum: 0 }, owner: { type: 'string', maxLength: 64 },
                // encp's listener for the mover's data connection: host:port (IPv6 in brackets).
                callback: { type: 'string', maxLength: 300, pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[-A-Za-z0-9_.]+):[0-9]{1,5}$' },
              },
            },
            {
              type: 'object',
              required: ['kind', 'uniqueId', 'file'],
              additionalProperties: false,
              properties: { kind: { const: 'read' }, ...common, file: { type: 'string', minLength: 1, maxLength: 4096 } },
            },
          ],
        },
        response: { 200: ticketSchema, ...errors },
      },
    }, async (req) => {
      const b = req.body;
      const opts = { uniqueId: b.uniqueId, clientHost: req.ip, ...(b.priority !== undefined ? { priority: b.priority } : {}), ...(b.maxRetry !== undefined ? { maxRetry: b.maxRetry } : {}), ...(b.dismountDelayMs !== undefined ? { dismountDelayMs: b.dismountDelayMs } : {}) };
      if (b.kind === 'read') return intake.read({ ...opts, file: b.file });
      const overrides = {
        ...(b.fileFamily !== undefined ? { fileFamily: b.fileFamily } : {}),
        ...(b.fileFamilyWidth !== undefined ? { width: b.fileFamilyWidth } : {}),
        ...(b.storageGroup !== undefined ? { storageGroup: b.storageGroup } : {}),
      };
      return intake.write({ ...opts, path: b.path, size: b.size, overrides, ...(b.uid !== undefined ? { uid: b.uid } : {}), ...(b.gid !== undefined ? { gid: b.gid } : {}), ...(b.owner ? { owner: b.owner } : {}), ...(b.callback ? { callback: b.callback } : {}) });
    });

    app.get<{ Params: { library: string; id: number }; Querystring: { waitMs?: number; state?: string; token?: string } }>('/libraries/:library/requests/:id', {
      schema: {
        tags: ['transfers'],
        summary: 'A request and its assignment; with waitMs, long-poll until its state or assignment changes',
        params: { type: 'object', required: ['library', 'id'], properties: { library: { type: 'string' }, id: { type: 'integer', minimum: 1 } } },
        querystring: { type: 'object', additionalProperties: false, properties: { waitMs: { type: 'integer', minimum: 0, maximum: 60_000 }, state: { type: 'string' }, token: { type: 'string' } } },
        response: { 200: viewSchema, ...errors },
      },
    }, async (req) => intake.status(req.params.library, req.params.id, { ...(req.query.state ? { state: req.query.state } : {}), ...(req.query.token ? { token: req.query.token } : {}) }, req.query.waitMs ?? 0));

    app.get<{ Querystring: { library?: string; volume?: string; limit?: number } }>('/transfers', {
      schema: {
        tags: ['transfers'],
        summary: 'Transfers (one row per assignment to a mover), newest last',
        querystring: { type: 'object', additionalProperties: false, properties: { library: { type: 'string' }, volume: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 10_000 } } },
        response: { 200: { type: 'array', items: { type: 'object', additionalProperties: true } }, ...errors },
      },
    }, async (req) => {
      const { rows } = await pool.query(
        `SELECT * FROM (
           SELECT t.id, t.request_id AS "requestId", t.bfid, t.direction, t.volume_label AS volume, t.file_no AS "fileNo", t.mover, t.drive,
                  t.bytes, t.crc_adler32 AS crc, t.ok, t.error_code AS "errorCode", t.started_at AS "startedAt", t.finished_at AS "finishedAt",
                  r.library, r.storage_group AS "storageGroup", r.file_family AS "fileFamily"
           FROM transfers t JOIN requests r ON r.id = t.request_id
           WHERE ($1::text IS NULL OR r.library = $1) AND ($2::text IS NULL OR t.volume_label = $2)
           ORDER BY t.id DESC LIMIT $3) x ORDER BY id`,
        [req.query.library ?? null, req.query.volume ?? null, req.query.limit ?? 1000],
      );
      return rows;
    });

    app.post<{ Params: { library: string }; Body: { state: string; reason?: string } }>('/libraries/:library/state', {
      schema: {
        tags: ['libraries'],
        summary: 'Set the library manager state: unlocked, locked (refuse new requests and hold queued ones: drain), ignore (accept and drop), pause (accept and hold), noread, nowrite; transfers at movers always finish',
        params: { type: 'object', required: ['library'], properties: { library: { type: 'string' } } },
        body: {
          type: 'object',
          required: ['state'],
          additionalProperties: false,
          properties: { state: { type: 'string', enum: ['unlocked', 'locked', 'ignore', 'pause', 'noread', 'nowrite'] }, reason: { type: 'string', maxLength: 500 } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              library: { type: 'string' }, state: { type: 'string' }, previous: { type: 'string' },
              inFlight: { type: 'integer', description: 'requests at movers (assigned or active): they finish whatever the state' },
              queued: { type: 'integer' },
            },
          },
          ...errors,
        },
      },
    }, async (req) => {
      const lm = managers.get(req.params.library);
      if (!lm) throw new TapestryError('NOT_FOUND', `no library "${req.params.library}"`);
      const changed = await lm.setLibraryState(req.body.state as Parameters<LibraryManager['setLibraryState']>[0], req.body.reason ?? null);
      const open = await openRequests(pool, req.params.library);
      return { ...changed, inFlight: open.filter((r) => r.state !== 'queued').length, queued: open.filter((r) => r.state === 'queued').length };
    });

    app.get<{ Params: { library: string } }>('/libraries/:library/suspects', {
      schema: {
        tags: ['libraries'],
        summary: 'Suspect (volume, mover) pairs: a drive or media error paired them once, the scheduler never pairs them again',
        params: { type: 'object', required: ['library'], properties: { library: { type: 'string' } } },
        response: {
          200: { type: 'array', items: { type: 'object', properties: { volume: { type: 'string' }, mover: { type: 'string' }, errorCode: { type: 'string' }, errorMessage: { type: ['string', 'null'] }, at: { type: 'string' } } } },
          ...errors,
        },
      },
    }, async (req) => {
      if (!managers.has(req.params.library)) throw new TapestryError('NOT_FOUND', `no library "${req.params.library}"`);
      return (await suspectPairDetails(pool, req.params.library)).map((p) => ({ ...p, at: p.at.toISOString() }));
    });

    app.post<{ Params: { library: string }; Body: { by?: string } | undefined }>('/libraries/:library/reset', {
      schema: {
        tags: ['libraries'],
        summary: 'Reset a library after a NOACCESS storm (Enstore\'s `vol --reset-lib`): broken → unlocked, the NOACCESS count starts afresh, the BROKEN alarm is resolved',
        params: { type: 'object', required: ['library'], properties: { library: { type: 'string' } } },
        body: { type: 'object', additionalProperties: false, properties: { by: { type: 'string', minLength: 1, maxLength: 100 } } },
        response: { 200: { type: 'object', properties: { library: { type: 'string' }, state: { type: 'string' }, previous: { type: 'string' } } }, ...errors },
      },
    }, async (req) => {
      const lm = managers.get(req.params.library);
      if (!lm) throw new TapestryError('NOT_FOUND', `no library "${req.params.library}"`);
      return lm.resetLibrary(req.body?.by ?? 'operator');
    });

    app.get<{ Params: { library: string } }>('/libraries/:library/queue', {
      schema: {
        tags: ['libraries'],
        summary: 'The library manager queue: open requests and connected movers',
        params: { type: 'object', required: ['library'], properties: { library: { type: 'string' } } },
        response: { 200: { type: 'object', additionalProperties: true }, ...errors },
      },
    }, async (req) => {
      const lm = managers.get(req.params.library);
      if (!lm) throw new TapestryError('NOT_FOUND', `no library "${req.params.library}"`);
      const rows = await openRequests(pool, req.params.library);
      // The leader may be another process: its address is in the database.
      const { rows: [lib] } = await pool.query<{ lm_address: string | null }>('SELECT lm_address FROM libraries WHERE name = $1', [req.params.library]);
      return {
        library: lm.library,
        state: await lm.libraryState(),
        moverPort: lm.moverPort || lib?.lm_address || '',
        leader: lm.isLeader ? 'this process' : 'another process',
        movers: lm.moverSummary(),
        requests: rows.map((r) => ({
          id: r.id, kind: r.kind, state: r.state, priority: r.priority, key: r.key, bfid: r.bfid, volume: r.volumeLabel, fileNo: r.fileNo,
          size: r.size, mover: r.mover, attempts: r.attempts, queuedAt: r.queuedAt.toISOString(), lastError: r.errorCode ? `${r.errorCode}: ${r.errorMessage}` : null,
        })),
      };
    });
  };
}

const requestSummarySchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, library: { type: 'string' }, kind: { type: 'string' }, state: { type: 'string' }, priority: { type: 'integer' },
    key: { type: 'string' }, bfid: { type: ['string', 'null'] }, mover: { type: ['string', 'null'] }, error: { type: ['string', 'null'] },
  },
} as const;

const requestSummary = (r: RequestRow): Record<string, unknown> => ({
  id: r.id, library: r.library, kind: r.kind, state: r.state, priority: r.priority, key: r.key, bfid: r.bfid, mover: r.mover,
  error: r.errorCode ? `${r.errorCode}: ${r.errorMessage ?? ''}` : null,
});

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } as const;

/**
 * Operator administration (Enstore's `library --priority ID N`, `--delete-work ID`,
 * `mover --offline/--online`): each goes to the library manager that owns the
 * request or the mover.
 */
function adminRoutes(managers: ReadonlyMap<string, LibraryManager>, pool: pg.Pool): FastifyPluginAsync {
  const managerOf = async (sql: string, key: string | number, what: string): Promise<LibraryManager> => {
    const { rows } = await pool.query<{ library: string }>(sql, [key]);
    const lm = rows[0] ? managers.get(rows[0].library) : undefined;
    if (!lm) throw new TapestryError('NOT_FOUND', `no ${what}`, { context: { id: key } });
    return lm;
  };
  const requestManager = (id: number): Promise<LibraryManager> => managerOf('SELECT library FROM requests WHERE id = $1', id, `request ${id}`);
  const moverManager = (name: string): Promise<LibraryManager> => managerOf('SELECT library FROM movers WHERE name = $1', name, `mover "${name}"`);

  return async (app) => {
    app.post<{ Params: { id: number }; Body: { priority: number } }>('/requests/:id/priority', {
      schema: {
        tags: ['libraries'],
        summary: 'Change the base priority of a queued request (refused once it is at a mover or finished)',
        params: idParams,
        body: { type: 'object', required: ['priority'], additionalProperties: false, properties: { priority: common.priority } },
        response: { 200: requestSummarySchema, ...errors },
      },
    }, async (req) => requestSummary(await (await requestManager(req.params.id)).setPriority(req.params.id, req.body.priority)));

    app.post<{ Params: { id: number }; Body: { by?: string; reason?: string } | undefined }>('/requests/:id/cancel', {
      schema: {
        tags: ['libraries'],
        summary: 'Cancel a queued request: its encp fails with CANCELLED (refused once it is at a mover or finished)',
        params: idParams,
        body: { type: 'object', additionalProperties: false, properties: { by: { type: 'string', minLength: 1, maxLength: 64 }, reason: { type: 'string', maxLength: 500 } } },
        response: { 200: requestSummarySchema, ...errors },
      },
    }, async (req) => requestSummary(await (await requestManager(req.params.id)).cancel(req.params.id, req.body?.by ?? 'operator', req.body?.reason ?? null)));

    app.get('/movers', {
      schema: {
        tags: ['libraries'],
        summary: 'Every configured mover: its drive, the operator\'s online/offline, and what it is doing if connected',
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                name: { type: 'string' }, library: { type: 'string' }, drive: { type: 'string' }, driveState: { type: 'string' },
                adminState: { type: 'string', enum: ['online', 'offline'] }, connected: { type: 'boolean' }, state: { type: 'string' },
                volume: { type: ['string', 'null'] }, requestId: { type: ['integer', 'null'] },
                consecutiveFailures: { type: 'integer', description: 'drive/media failures in a row since its last success (docs/operators/faults-drive-media.md)' },
              },
            },
          },
          ...errors,
        },
      },
    }, async () => {
      const { rows } = await pool.query<{ name: string; library: string; drive: string; drive_state: string; consecutive_failures: number; mover_state: string }>(
        'SELECT m.name, m.library, m.drive, d.state AS drive_state, m.consecutive_failures, m.state AS mover_state FROM movers m JOIN drives d ON d.name = m.drive ORDER BY m.name',
      );
      const live = new Map([...managers.values()].flatMap((lm) => lm.moverSummary().map((m) => [m.name, m] as const)));
      return rows.map((r) => {
        const m = live.get(r.name);
        // Led by another process: what its leader last recorded (idle on Hello, offline when the session ended).
        const elsewhere = !m && managers.get(r.library)?.isLeader === false && r.mover_state !== 'offline';
        return {
          name: r.name, library: r.library, drive: r.drive, driveState: r.drive_state, adminState: r.drive_state === 'offline' ? 'offline' : 'online',
          connected: m !== undefined || elsewhere, state: m?.state ?? (elsewhere ? 'connected to the leader in another process' : 'disconnected'), volume: m?.volume ?? null, requestId: m?.requestId ?? null,
          consecutiveFailures: r.consecutive_failures,
        };
      });
    });

    app.post<{ Params: { name: string }; Body: { state: 'online' | 'offline' } }>('/movers/:name/state', {
      schema: {
        tags: ['libraries'],
        summary: 'Take a mover offline (no new work; a transfer in flight finishes, then its tape is dismounted) or back online',
        params: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } },
        body: { type: 'object', required: ['state'], additionalProperties: false, properties: { state: { type: 'string', enum: ['online', 'offline'] } } },
        response: {
          200: { type: 'object', properties: { mover: { type: 'string' }, state: { type: 'string' }, previous: { type: 'string' }, busy: { type: 'boolean' } } },
          ...errors,
        },
      },
    }, async (req) => (await moverManager(req.params.name)).setMoverAdminState(req.params.name, req.body.state));
  };
}
