import type { FastifyPluginAsync } from 'fastify';
import type { QuotaService } from './quota-service.ts';

const errors = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } };
const nameSchema = { type: 'string', maxLength: 64 } as const;
const params = { type: 'object', required: ['library', 'storageGroup'], properties: { library: nameSchema, storageGroup: nameSchema } } as const;
const usageSchema = {
  type: 'object',
  properties: {
    library: { type: 'string' },
    storageGroup: { type: 'string' },
    used: { type: 'integer', description: 'volumes of the storage group in the library (written, reserved blank, deleted)' },
    blank: { type: 'integer', description: 'of those, blank volumes reserved for it' },
    quota: { type: ['integer', 'null'], description: 'null: no quota' },
    updatedAt: { type: ['string', 'null'] },
  },
} as const;

/** `/quotas`: how many volumes each storage group may hold per library, and how many it has. */
export function quotaRoutes(quotas: QuotaService): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { library?: string } }>('/quotas', {
      schema: {
        tags: ['quotas'],
        summary: 'Quota and use of every storage group, and the blank volumes left in each common pool',
        querystring: { type: 'object', additionalProperties: false, properties: { library: nameSchema } },
        response: {
          200: {
            type: 'object',
            properties: {
              quotas: { type: 'array', items: usageSchema },
              commonPool: { type: 'array', items: { type: 'object', properties: { library: { type: 'string' }, blank: { type: 'integer' } } } },
            },
          },
          ...errors,
        },
      },
    }, async (req) => quotas.show(req.query));

    app.put<{ Params: { library: string; storageGroup: string }; Body: { quota: number; actor?: string } }>('/quotas/:library/:storageGroup', {
      schema: {
        tags: ['quotas'],
        summary: 'Set how many volumes a storage group may hold in a library (beyond it, writes needing a common-pool volume fail STORAGE_QUOTA_EXCEEDED)',
        params,
        body: { type: 'object', required: ['quota'], additionalProperties: false, properties: { quota: { type: 'integer', minimum: 0 }, actor: { type: 'string', minLength: 1, maxLength: 64 } } },
        response: { 200: usageSchema, ...errors },
      },
    }, async (req) => quotas.set(req.params.library, req.params.storageGroup, req.body.quota, req.body.actor));

    app.delete<{ Params: { library: string; storageGroup: string }; Querystring: { actor?: string } }>('/quotas/:library/:storageGroup', {
      schema: {
        tags: ['quotas'],
        summary: 'Remove a quota (no limit)',
        params,
        querystring: { type: 'object', additionalProperties: false, properties: { actor: { type: 'string', minLength: 1, maxLength: 64 } } },
        response: { 200: usageSchema, ...errors },
      },
    }, async (req) => quotas.clear(req.params.library, req.params.storageGroup, req.query.actor));
  };
}
