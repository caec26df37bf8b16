import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { TapestryError } from '../errors/index.ts';
import type { TapestryConfig } from './types.ts';
import { validateConfig, type ConfigProblem } from './validate.ts';

export const DEFAULT_CONFIG_FILE = 'tapestry.yaml';

export interface CheckResult {
  readonly file: string;
  readonly config: TapestryConfig | null;
  readonly problems: readonly ConfigProblem[];
}

/**
 * Read and validate a config file without throwing on validation problems:
 * YAML syntax errors and duplicate keys are problems too, so a check lists
 * everything wrong with the file at once.
 */
export function checkConfigFile(file: string): CheckResult {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    return { file: abs, config: null, problems: [{ path: '(file)', message: `cannot read ${abs}: ${(err as Error).message}` }] };
  }
  // uniqueKeys makes a repeated mapping key an error rather than "last one wins".
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    return { file: abs, config: null, problems: doc.errors.map((e) => ({ path: `(line ${e.linePos?.[0]?.line ?? '?'})`, message: e.message.split('\n')[0] ?? e.message })) };
  }
  const result = validateConfig(doc.toJS(), path.dirname(abs), abs);
  return { file: abs, ...result };
}

/**
 * Load the config for a process: `--config`, else TAPESTRY_CONFIG, else
 * ./tapestry.yaml. Environment overrides: TAPESTRY_DATABASE_URL. Throws
 * CONFIG_INVALID listing every problem.
 */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): TapestryConfig {
  const chosen = file ?? env.TAPESTRY_CONFIG ?? DEFAULT_CONFIG_FILE;
  const { config, problems, file: abs } = checkConfigFile(chosen);
  if (!config) {
    const list = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n');
    throw new TapestryError('CONFIG_INVALID', `${abs} has ${problems.length} problem(s):\n${list}`, { context: { file: abs, problems } });
  }
  const url = env.TAPESTRY_DATABASE_URL;
  return url ? { ...config, database: { ...config.database, url } } : config;
}
