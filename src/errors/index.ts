export * from './codes.ts';
export * from './tapestry-error.ts';
