import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { isTapestryError, TapestryError } from '../errors/index.ts';
import { fastifyLogger, type Logger } from '../logging/index.ts';

export interface ServerOptions {
  log: Logger;
  /** Route plugins, each registered under `/api/v1` (STYLE: one plugin per component). */
  plugins: readonly FastifyPluginAsync[];
  version: string;
}

/** The error body of every failed request (DESIGN §5). */
export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', description: 'stable error code (src/errors/codes.ts)' },
    message: { type: 'string' },
    detail: { type: 'object', additionalProperties: true },
  },
} as const;

/**
 * Build the fastify app without listening (fastify's app.ts / server.ts split):
 * tests call `app.inject()`, `tapestry start` calls `listen`.
 */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: fastifyLogger(options.log.child({ component: 'http' })),
    // Requests are not logged one by one: components log the events that matter.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  app.addSchema(errorSchema);

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Tapestry', description: 'Tape-centric hierarchical storage manager: REST API', version: options.version },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  // One place maps errors to `{code, message, detail?}` (STYLE: errors).
  app.setErrorHandler((err: FastifyError | TapestryError | Error, request, reply) => {
    if (isTapestryError(err)) {
      if (err.httpStatus >= 500) request.log.warn({ event: 'http.error', code: err.code, err, url: request.url });
      return reply.status(err.httpStatus).send(err.toJSON());
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      return reply.status(400).send({ code: 'USERERROR', message: `invalid request: ${fe.message}`, detail: { validation: fe.validation } });
    }
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.status(fe.statusCode).send({ code: fe.statusCode === 404 ? 'NOT_FOUND' : 'MALFORMED', message: fe.message });
    }
    request.log.error({ event: 'http.internal_error', err, url: request.url });
    return reply.status(500).send({ code: 'INTERNAL', message: 'internal error; see the server log' });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` });
  });

  await app.register(async (api) => {
    for (const plugin of options.plugins) await api.register(plugin);
  }, { prefix: '/api/v1' });

  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/docs'));
  return app;
}
