import type { FastifyPluginAsync } from 'fastify';
import type { Queryable } from '../db/index.ts';

export interface HealthDeps {
  readonly db: Queryable;
  readonly version: string;
  readonly startedAt: number;
  readonly libraries: readonly string[];
}

/** `/health`: is the API up and can it reach the database. 503 when the database is down. */
export function healthRoutes(deps: HealthDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/health', {
      schema: {
        tags: ['health'],
        summary: 'Liveness and database reachability',
        response: {
          '2xx': {
            type: 'object',
            properties: {
              status: { type: 'string', enum: ['ok', 'degraded'] },
              version: { type: 'string' },
              uptimeSeconds: { type: 'number' },
              database: { type: 'object', properties: { ok: { type: 'boolean' }, schemaVersion: { type: ['integer', 'null'] }, error: { type: 'string' } } },
              libraries: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    }, async (_req, reply) => {
      let database: { ok: boolean; schemaVersion: number | null; error?: string };
      try {
        const { rows } = await deps.db.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
        database = { ok: true, schemaVersion: rows[0]?.v ?? null };
      } catch (err) {
        database = { ok: false, schemaVersion: null, error: (err as Error).message };
      }
      void reply.status(database.ok ? 200 : 503);
      return {
        status: database.ok ? 'ok' : 'degraded',
        version: deps.version,
        uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
        database,
        libraries: deps.libraries,
      };
    });
  };
}
