import type { FastifyPluginAsync } from 'fastify';
import { parseDuration } from '../src/config/units.ts';
import { TapestryError } from '../src/errors/index.ts';
import type { AutoReadonlyRun } from './auto-readonly-service.ts';
import type { VolumeLifecycle } from './lifecycle-service.ts';
import { volumeSchema } from './routes.ts';
import type { VolumeClerk } from './service.ts';

const errors = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } };
/** A live label, or the `LABEL.deleted` a deleted volume is renamed to. */
const anyLabel = { type: 'string', pattern: '^[A-Z0-9]{6,8}(\\.deleted)?$', description: 'volume label, e.g. TS0001L9 or TS0001L9.deleted' } as const;
const labelParams = { type: 'object', required: ['label'], properties: { label: anyLabel } } as const;
const who = { actor: { type: 'string', minLength: 1, maxLength: 64 }, reason: { type: 'string', maxLength: 1000 } } as const;
const whoBody = { type: 'object', additionalProperties: false, properties: who } as const;

interface Who { actor?: string; reason?: string }
const actorOf = (w: Who | undefined): { actor: string; reason?: string } => ({ actor: w?.actor ?? 'operator', reason: w?.reason });

const runSchema = {
  type: 'object',
  properties: {
    library: { type: 'string' },
    at: { type: 'string' },
    olderThanMs: { type: 'integer' },
    familyAges: { type: 'object', additionalProperties: { type: 'integer' } },
    considered: { type: 'integer' },
    marked: {
      type: 'array',
      items: { type: 'object', properties: { label: { type: 'string' }, fileFamily: { type: 'string' }, newestFileAt: { type: 'string' }, olderThanMs: { type: 'integer' } } },
    },
  },
} as const;

/** What the routes need of the automatic read-only job: run it now, and show its schedule. */
export interface AutoReadonlyControl {
  run(options: { library?: string; olderThanMs?: number }): Promise<AutoReadonlyRun[]>;
  status(): Promise<{ library: string; olderThanMs: number; familyAges: Record<string, number>; everyMs: number | null; nextAt: string | null }[]>;
}

/**
 * `/volumes/...` lifecycle: delete, restore, recycle, erase, storage group,
 * comment, write protection, and the automatic read-only job.
 */
export function volumeLifecycleRoutes(deps: { lifecycle: VolumeLifecycle; clerk: VolumeClerk; autoReadonly: AutoReadonlyControl }): FastifyPluginAsync {
  const { lifecycle, clerk, autoReadonly } = deps;
  return async (app) => {
    app.get('/volumes/auto-readonly', {
      schema: {
        tags: ['volumes'],
        summary: 'The automatic read-only policy of each library and when it runs next',
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                library: { type: 'string' }, olderThanMs: { type: 'integer' }, familyAges: { type: 'object', additionalProperties: { type: 'integer' } },
                everyMs: { type: ['integer', 'null'] }, nextAt: { type: ['string', 'null'] },
              },
            },
          },
          ...errors,
        },
      },
    }, async () => autoReadonly.status());

    app.post<{ Body: { library?: string; olderThan?: string } }>('/volumes/auto-readonly', {
      schema: {
        tags: ['volumes'],
        summary: 'Run the automatic read-only job now: written volumes whose files are all older than the age become readonly (system inhibit)',
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { library: { type: 'string', maxLength: 64 }, olderThan: { type: 'string', maxLength: 32, description: 'overrides the configured age for every family, e.g. 30d' } },
        },
        response: { 200: { type: 'array', items: runSchema }, ...errors },
      },
    }, async (req) => {
      const { library, olderThan } = req.body ?? {};
      let olderThanMs: number | undefined;
      if (olderThan !== undefined) {
        const ms = parseDuration(olderThan);
        if (ms === null) throw new TapestryError('USERERROR', `--older-than must be a duration such as 30d, 12h or 90min, not ${JSON.stringify(olderThan)}`, { context: { olderThan } });
        olderThanMs = ms;
      }
      return autoReadonly.run({ library, olderThanMs });
    });

    app.delete<{ Params: { label: string }; Querystring: Who }>('/volumes/:label', {
      schema: {
        tags: ['volumes'],
        summary: 'Delete a volume whose files are all deleted: a written one becomes LABEL.deleted, a never-written one is removed',
        params: labelParams,
        querystring: whoBody,
        response: {
          200: { type: 'object', properties: { outcome: { type: 'string', enum: ['removed', 'renamed'] }, label: { type: 'string' }, volume: volumeSchema } },
          ...errors,
        },
      },
    }, async (req) => lifecycle.deleteVolume(req.params.label, actorOf(req.query)));

    app.post<{ Params: { label: string }; Body: Who }>('/volumes/:label/restore', {
      schema: { tags: ['volumes'], summary: 'Undo a delete: LABEL.deleted gets its label back', params: labelParams, body: whoBody, response: { 200: volumeSchema, ...errors } },
    }, async (req) => lifecycle.restoreVolume(req.params.label, actorOf(req.body)));

    app.post<{ Params: { label: string }; Body: Who & { clearStorageGroup?: boolean } }>('/volumes/:label/recycle', {
      schema: {
        tags: ['volumes'],
        summary: 'Back to the blank pool of its storage group (or the common pool): counters except mounts reset, end-of-data cleared, remaining = capacity',
        params: labelParams,
        body: { type: 'object', additionalProperties: false, properties: { ...who, clearStorageGroup: { type: 'boolean' } } },
        response: { 200: volumeSchema, ...errors },
      },
    }, async (req) => lifecycle.recycleVolume(req.params.label, { ...actorOf(req.body), clearStorageGroup: req.body?.clearStorageGroup }));

    app.post<{ Params: { label: string }; Body: Who }>('/volumes/:label/erase', {
      schema: {
        tags: ['volumes'],
        summary: 'Remove a deleted volume (LABEL.deleted) from the catalogue; its history is kept',
        params: labelParams,
        body: whoBody,
        response: { 200: { type: 'object', properties: { label: { type: 'string' }, erased: { type: 'boolean' } } }, ...errors },
      },
    }, async (req) => lifecycle.eraseVolume(req.params.label, actorOf(req.body)));

    app.put<{ Params: { label: string }; Body: Who & { storageGroup: string } }>('/volumes/:label/storage-group', {
      schema: {
        tags: ['volumes'],
        summary: 'Give a blank volume to the blank pool of a storage group ("none": back to the common pool)',
        params: labelParams,
        body: { type: 'object', required: ['storageGroup'], additionalProperties: false, properties: { ...who, storageGroup: { type: 'string', maxLength: 64 } } },
        response: { 200: volumeSchema, ...errors },
      },
    }, async (req) => lifecycle.assignStorageGroup(req.params.label, req.body.storageGroup, actorOf(req.body)));

    app.put<{ Params: { label: string }; Body: { comment: string; actor?: string } }>('/volumes/:label/comment', {
      schema: {
        tags: ['volumes'],
        summary: 'Set the free-text comment of a volume',
        params: labelParams,
        body: { type: 'object', required: ['comment'], additionalProperties: false, properties: { comment: { type: 'string', maxLength: 1000 }, actor: who.actor } },
        response: { 200: volumeSchema, ...errors },
      },
    }, async (req) => clerk.setComment(req.params.label, req.body.comment, req.body.actor ?? 'operator'));

    app.put<{ Params: { label: string }; Body: Who & { on: boolean } }>('/volumes/:label/write-protect', {
      schema: {
        tags: ['volumes'],
        summary: 'Record the cartridge as write-protected (never chosen for writes) or not',
        params: labelParams,
        body: { type: 'object', required: ['on'], additionalProperties: false, properties: { ...who, on: { type: 'boolean' } } },
        response: { 200: volumeSchema, ...errors },
      },
    }, async (req) => lifecycle.setWriteProtect(req.params.label, req.body.on, actorOf(req.body)));
  };
}
