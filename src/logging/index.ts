export * from './logger.ts';
export * from './fastify-adapter.ts';
