import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before } from 'node:test';
import { startTapestry, type RunningTapestry } from './cli.ts';
import { makeTestInstallation, type TestInstallation } from './system-config.ts';

export interface SystemUnderTest {
  readonly inst: TestInstallation;
  readonly sys: RunningTapestry;
  /** `TAPESTRY_URL` for the CLIs. */
  readonly env: NodeJS.ProcessEnv;
  /** An empty local directory in the installation, for the test's files. */
  readonly work: string;
}

/**
 * One `tapestry start` for a whole system-test file (the machine has 2 cores:
 * one system per file, every scenario against it): made in before(), handed
 * to `ready`, stopped with SIGINT and removed in after().
 */
export function withSystem(options: Parameters<typeof makeTestInstallation>[0], ready: (s: SystemUnderTest) => void): void {
  let inst: TestInstallation | undefined;
  let sys: RunningTapestry | undefined;
  before(async () => {
    inst = await makeTestInstallation(options);
    sys = await startTapestry(inst.configFile);
    const work = path.join(inst.dir, 'work');
    await fs.mkdir(work);
    ready({ inst, sys, env: { TAPESTRY_URL: sys.url }, work });
  });
  after(async () => {
    await sys?.stop('SIGINT');
    await inst?.remove();
  });
}
