export * from './types.ts';
export * from './load.ts';
export * from './units.ts';
export { validateConfig, LABEL_PATTERN, type ConfigProblem } from './validate.ts';
