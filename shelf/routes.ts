import type { FastifyPluginAsync } from 'fastify';
import type { ShelfPolicy } from './repo.ts';
import type { EjectJobs } from './eject-job.ts';
import type { ShelfService } from './service.ts';

const errors = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } };
const nameSchema = { type: 'string', pattern: '^[-A-Za-z0-9_]+$', maxLength: 64 } as const;
const labelParams = { type: 'object', required: ['label'], properties: { label: { type: 'string', pattern: '^[A-Z0-9]{6,8}$', description: 'volume label, e.g. TS0001L9' } } } as const;

const importResult = {
  type: 'object',
  properties: {
    label: { type: 'string' },
    mailslot: { type: 'integer' },
    action: { type: 'string', enum: ['returned', 'declared', 'left', 'failed'] },
    slot: { type: ['integer', 'null'] },
    message: { type: 'string' },
  },
} as const;

const ejectResult = {
  type: 'object',
  properties: {
    label: { type: 'string' },
    action: { type: 'string', enum: ['ejected', 'refused', 'not-done'] },
    mailslot: { type: ['integer', 'null'] },
    message: { type: 'string' },
  },
} as const;

const progressSchema = {
  type: 'object',
  properties: {
    job: { type: 'string' },
    state: { type: 'string', enum: ['queued', 'running', 'waiting', 'done', 'failed'] },
    waitingFor: { type: ['string', 'null'] },
    results: { type: 'array', items: ejectResult },
  },
} as const;

/** `/volumes/import` and `/volumes/:label/shelf-policy`: the shelf side of the volume commands. */
export function shelfRoutes(shelf: ShelfService, ejects: EjectJobs): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: { library?: string } }>('/volumes/import', {
      schema: {
        tags: ['volumes'],
        summary: "Enter every cartridge in the mail slots: known volumes return to a slot, unknown blank ones are declared, others stay",
        body: { type: 'object', additionalProperties: false, properties: { library: nameSchema } },
        response: { 200: { type: 'object', properties: { results: { type: 'array', items: importResult } } }, ...errors },
      },
    }, async (req) => ({ results: await shelf.importVolumes(req.body?.library) }));

    app.post<{ Body: { labels: string[]; policy: ShelfPolicy; shelf?: string; max?: number; actor?: string } }>('/volumes/eject', {
      schema: {
        tags: ['volumes'],
        summary: 'Start an eject job: volumes go to the mail slots and on the shelf, waiting for busy volumes and full mail slots',
        body: {
          type: 'object',
          required: ['labels', 'policy'],
          additionalProperties: false,
          properties: {
            labels: { type: 'array', minItems: 1, maxItems: 10000, items: { type: 'string', pattern: '^[A-Z0-9]{6,8}$' } },
            policy: { type: 'string', enum: ['fail', 'operator'] },
            shelf: { type: 'string', minLength: 1, maxLength: 200 },
            max: { type: 'integer', minimum: 1 },
            actor: { type: 'string', maxLength: 64 },
          },
        },
        response: { 200: progressSchema, ...errors },
      },
    }, async (req) => {
      const b = req.body;
      return ejects.start({ labels: b.labels, policy: b.policy, shelf: b.shelf ?? null, ...(b.max === undefined ? {} : { max: b.max }), actor: b.actor ?? 'operator' });
    });

    app.get<{ Params: { job: string } }>('/volumes/eject/:job', {
      schema: {
        tags: ['volumes'],
        summary: 'Progress of an eject job: per volume what happened, and what it waits for',
        params: { type: 'object', required: ['job'], properties: { job: { type: 'string', pattern: '^[-A-Za-z0-9_:]+$', maxLength: 100 } } },
        response: { 200: progressSchema, ...errors },
      },
    }, async (req) => ejects.status(req.params.job));

    app.post<{ Params: { label: string }; Body: { policy: ShelfPolicy; actor?: string } }>('/volumes/:label/shelf-policy', {
      schema: {
        tags: ['volumes'],
        summary: 'What a read does while the volume is on the shelf: fail at once, or wait for an operator',
        params: labelParams,
        body: {
          type: 'object',
          required: ['policy'],
          additionalProperties: false,
          properties: { policy: { type: 'string', enum: ['fail', 'operator'] }, actor: { type: 'string', maxLength: 64 } },
        },
        response: { 200: { type: 'object', properties: { label: { type: 'string' }, shelfPolicy: { type: 'string' }, previous: { type: 'string' } } }, ...errors },
      },
    }, async (req) => shelf.setShelfPolicy(req.params.label, req.body.policy, req.body.actor ?? 'operator'));
  };
}
