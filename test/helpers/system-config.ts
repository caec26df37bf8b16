import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * A temporary directory holding a copy of the example tapestry.yaml with its
 * own var dir, an ephemeral HTTP port and a fast time scale, so system tests
 * run like `npm start` without touching the checkout's var/.
 */
export interface TestInstallation {
  readonly dir: string;
  readonly configFile: string;
  remove(): Promise<void>;
}

const REPO = path.resolve(import.meta.dirname, '../..');

export async function makeTestInstallation(options: { timeScale?: number; extraYaml?: string; replace?: readonly (readonly [RegExp, string])[] } = {}): Promise<TestInstallation> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tapestry-sys-'));
  // PostgreSQL runs as the `postgres` user when we are root: it must be able to reach var/pg.
  await fs.chmod(dir, 0o755);
  let yaml = await fs.readFile(path.join(REPO, 'tapestry.yaml'), 'utf8');
  yaml = yaml.replace(/^  port: 8420.*$/m, '  port: 0').replace(/^  time_scale: .*$/m, `  time_scale: ${options.timeScale ?? 0.001}`);
  yaml = yaml.replace(/^  file: var\/log\/tapestry.log.*$/m, '  file: var/log/tapestry.log');
  for (const [re, to] of options.replace ?? []) {
    if (!re.test(yaml)) throw new Error(`test config: ${re} matches nothing in tapestry.yaml`);
    yaml = yaml.replace(re, to);
  }
  if (options.extraYaml) yaml += `\n${options.extraYaml}\n`;
  const configFile = path.join(dir, 'tapestry.yaml');
  await fs.writeFile(configFile, yaml);
  return { dir, configFile, remove: () => fs.rm(dir, { recursive: true, force: true }) };
}
