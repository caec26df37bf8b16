import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { encp, startTapestry, tapestry, TAPESTRY_BIN, type RunningTapestry } from '../helpers/cli.ts';
import { makeTestInstallation, type TestInstallation } from '../helpers/system-config.ts';

/**
 * A mover as its own process (`tapestry start --component mover --name drive-2`),
 * as on a mover host: it finds its library manager through the database, asks
 * the API for robot moves, and serves encp on its own data port.
 */
let inst: TestInstallation;
let sys: RunningTapestry;

before(async () => {
  inst = await makeTestInstallation({
    // Only drive-2, remote: every transfer must go through the separate process.
    replace: [[/^  - name: drive-1\n    library: lto9\n    element: 1 .*\n/m, ''], [/^    element: 2$/m, '    element: 2\n    mover: remote'],
      [/^  - name: drive-3\n    library: lto9\n    element: 3\n/m, ''], [/^  - name: drive-4\n    library: lto9\n    element: 4\n/m, '']],
  });
  sys = await startTapestry(inst.configFile);
});
after(async () => {
  await sys?.stop('SIGINT');
  await inst.remove();
});

test('a mover started as its own process writes and reads, and stops cleanly', async () => {
  const env = { TAPESTRY_URL: sys.url };
  const mover = spawn(process.execPath, [TAPESTRY_BIN, 'start', '--component', 'mover', '--name', 'drive-2', '--config', inst.configFile], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  mover.stdout.on('data', (d: Buffer) => (out += d.toString()));
  mover.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => mover.on('exit', (code) => resolve(code)));
  try {
    for (let i = 0; i < 100 && !/mover drive-2 running/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /mover drive-2 running/);
    for (const args of [['ns', 'mkdir', '-p', '/exp/remote'], ['ns', 'tag', 'set', '/exp/remote', 'file_family', 'remote']]) {
      const r = await tapestry(args, env);
      assert.equal(r.code, 0, r.stderr);
    }
    const src = path.join(inst.dir, 'r.dat');
    await fs.writeFile(src, randomBytes(700_000));
    const w = await encp(['--json', src, '/exp/remote/r.dat'], env);
    assert.equal(w.code, 0, w.stderr);
    assert.equal((JSON.parse(w.stdout) as { mover: string }).mover, 'drive-2');
    const back = path.join(inst.dir, 'back.dat');
    const r = await encp([ '/exp/remote/r.dat', back], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await fs.readFile(back), await fs.readFile(src));
  } finally {
    mover.kill('SIGINT');
    assert.equal(await exited, 0, out);
  }
});
