export * from './pool.ts';
export * from './tx.ts';
export * from './migrate.ts';
export * from './embedded.ts';
export * from './config-sync.ts';
export * from './rows.ts';
export * from './availability.ts';
