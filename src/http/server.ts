import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { databaseUnavailable, isDbUnavailable } from '../db/availability.ts';
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
 * PostgreSQL refused a value that came from the request — SQLSTATE class 22,
 * "data exception": a NUL byte in a string, an id beyond bigint, an
 * unparsable date. The request is wrong, not the server: the message, not a
 * 500. Found by test/system/fuzz-rest.test.ts; schemas cannot express all of
 * these (a NUL is a valid JSON string character).
 */
function valueRefusedByDb(err: unknown): string | null {
  for (let e = err as { code?: unknown; severity?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /^22[0-9A-Z]{3}$/.test(e.code) && typeof e.severity === 'string') return String(e.message);
  }
  return null;
}

/**
 * Requests Node's HTTP parser refuses before fastify sees them (a request line
 * or headers beyond the size limit, a malformed request line): answered with
 * the same `{code, message}` body as every other error, so clients and
 * scripts need no second error format (fastify's default has no `code`).
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'request line or headers too large']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request not received in time']
      : [400, `malformed HTTP request${err.code ? ` (${err.code})` : ''}`];
  const body = JSON.stringify({ code: status === 408 ? 'TIMEOUT' : 'MALFORMED', message });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

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
    clientErrorHandler: answerClientError,
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
    const refused = isTapestryError(err) && err.httpStatus < 500 ? null : valueRefusedByDb(err);
    if (refused !== null) {
      return reply.status(400).send({ code: 'USERERROR', message: `invalid value in the request: ${refused}` });
    }
    if (isTapestryError(err)) {
      if (err.httpStatus >= 500) request.log.warn({ event: 'http.error', code: err.code, err, url: request.url });
      return reply.status(err.httpStatus).send(err.toJSON());
    }
    // The database is down (a connection refused or cut): 503 UNAVAILABLE,
    // which clients retry with backoff, not a 500 that looks like a bug.
    if (isDbUnavailable(err)) {
      const e = databaseUnavailable(err);
      return reply.status(e.httpStatus).send(e.toJSON());
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
