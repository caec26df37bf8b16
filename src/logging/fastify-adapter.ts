import type { FastifyBaseLogger } from 'fastify';
import type { Logger } from './logger.ts';

/**
 * fastify's logger contract (lib/logger-factory.js) wants pino's shape: the
 * methods fatal…trace plus child, called object-first with an optional message,
 * and a settable `level`. Our Logger already logs object-first; this only fills
 * in the pino-specific members.
 */
export function fastifyLogger(log: Logger): FastifyBaseLogger {
  const wrap = (inner: Logger): FastifyBaseLogger => {
    const call = (fn: (o: object | string, m?: string) => void) =>
      (obj: unknown, msg?: unknown, ..._rest: unknown[]): void => {
        if (typeof obj === 'string') fn(obj);
        else fn((obj ?? {}) as object, typeof msg === 'string' ? msg : undefined);
      };
    const adapter = {
      level: inner.level,
      fatal: call(inner.fatal.bind(inner)),
      error: call(inner.error.bind(inner)),
      warn: call(inner.warn.bind(inner)),
      info: call(inner.info.bind(inner)),
      debug: call(inner.debug.bind(inner)),
      trace: call(inner.trace.bind(inner)),
      silent: () => undefined,
      child: (bindings: Record<string, unknown>) => wrap(inner.child(bindings)),
    };
    return adapter as unknown as FastifyBaseLogger;
  };
  return wrap(log);
}
