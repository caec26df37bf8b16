import type { FastifyPluginAsync } from 'fastify';
import { ALARM_SEVERITIES, type AlarmSeverity } from './repo.ts';
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
    app.get<{ Querystring: { all?: boolean; severity?: AlarmSeverity } }>('/alarms', {
      schema: {
        tags: ['alarms'],
        summary: 'Open alarms, one per cause (key) with its count, first and last time seen; most recent first (all=true: resolved ones too; severity: that severity or worse)',
        querystring: { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean' }, severity: { type: 'string', enum: ALARM_SEVERITIES } } },
        response: { 200: { type: 'array', items: alarmSchema }, ...errors },
      },
    }, async (req) => alarms.list({ all: req.query.all, ...(req.query.severity ? { severity: req.query.severity } : {}) }));

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
