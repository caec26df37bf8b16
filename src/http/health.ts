import type { FastifyPluginAsync } from 'fastify';
import type { DbAvailability, Queryable } from '../db/index.ts';

export interface HealthDeps {
  readonly db: Queryable;
  readonly version: string;
  readonly startedAt: number;
  readonly libraries: readonly string[];
  /** The process's view of the database (transitions logged once); without it, /health only runs its own query. */
  readonly availability?: DbAvailability;
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
              database: {
                type: 'object',
                properties: {
                  ok: { type: 'boolean' },
                  schemaVersion: { type: ['integer', 'null'] },
                  error: { type: 'string' },
                  /** When the database was last seen going down (ISO), while it is down. */
                  downSince: { type: ['string', 'null'] },
                },
              },
              libraries: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    }, async (_req, reply) => {
      let database: { ok: boolean; schemaVersion: number | null; error?: string; downSince: string | null };
      try {
        // A stopped (not crashed) server accepts connections and never answers: bound the wait.
        const { rows } = await withTimeout(deps.db.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations'), 5_000);
        database = { ok: true, schemaVersion: rows[0]?.v ?? null, downSince: null };
      } catch (err) {
        deps.availability?.reportFailure(err);
        const status = deps.availability?.status;
        database = { ok: false, schemaVersion: null, error: (err as Error).message, downSince: status?.state === 'down' ? new Date(status.since).toISOString() : null };
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

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connection timeout: the database did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
