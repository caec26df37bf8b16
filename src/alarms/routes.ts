import type { FastifyPluginAsync } from 'fastify';
import { ALARM_SEVERITIES } from './repo.ts';
import type { AlarmService } from './service.ts';

export const alarmSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    key: { type: 'string' },
    severity: { type: 'string', enum: ALARM_SEVERITIES },
    code: { type: 'string' },
    message: { type: 'string' },
    detail: { type: 'object', additionalProperties: true },
    count: { type: 'integer' },
    firstAt: { type: 'string', format: 'date-time' },
    lastAt: { type: 'string', format: 'date-time' },
    resolvedAt: { type: ['string', 'null'] },
    resolvedBy: { type: ['string', 'null'] },
  },
} as const;

const errors = { '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } };

/** `/alarms`: list open (or all) alarms, resolve one. */
export function alarmRoutes(alarms: AlarmService): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { all?: boolean } }>('/alarms', {
      schema: {
        tags: ['alarms'],
        summary: 'Open alarms, most recent first (all=true: resolved ones too)',
        querystring: { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean' } } },
        response: { 200: { type: 'array', items: alarmSchema }, ...errors },
      },
    }, async (req) => alarms.list({ all: req.query.all }));

    app.post<{ Params: { id: number }; Body: { by?: string } | undefined }>('/alarms/:id/resolve', {
      schema: {
        tags: ['alarms'],
        summary: 'Mark an alarm resolved; raising the same key afterwards opens a new alarm',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } },
        body: { type: 'object', additionalProperties: false, properties: { by: { type: 'string', minLength: 1, maxLength: 64 } } },
        response: { 200: alarmSchema, ...errors },
      },
    }, async (req) => alarms.resolve(req.params.id, req.body?.by));
  };
}
