export * from './repo.ts';
export * from './service.ts';
export * from './routes.ts';
