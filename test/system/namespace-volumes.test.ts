import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTapestry, tapestry, type CliResult, type RunningTapestry } from '../helpers/cli.ts';
import { makeTestInstallation, type TestInstallation } from '../helpers/system-config.ts';

// Each CLI run costs a second or two of start-up, so this file checks what only the
// real binaries can show (wiring, output, exit codes); the rules themselves are
// covered by the unit and integration tests.
let inst: TestInstallation;
let running: RunningTapestry;
let env: NodeJS.ProcessEnv;

before(async () => {
  inst = await makeTestInstallation();
  running = await startTapestry(inst.configFile);
  env = { TAPESTRY_URL: running.url };
});
after(async () => {
  await running?.stop('SIGINT');
  await inst?.remove();
});

async function ok(...args: string[]): Promise<string> {
  const r = await tapestry(args, env);
  assert.equal(r.code, 0, `tapestry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function fails(code: number, pattern: RegExp, ...args: string[]): Promise<void> {
  const r: CliResult = await tapestry(args, env);
  assert.equal(r.code, code, `tapestry ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace instead of a message');
}

test('on start, the 20 simulated cartridges are blank volumes in the common pool', async () => {
  const vols = JSON.parse(await ok('volume', 'list', '--json')) as { label: string; library: string; volumeFamily: string; eodFileNo: number | null; remainingBytes: number; capacityBytes: number; location: { kind: string; ref: string } }[];
  assert.deepEqual(vols.map((v) => v.label), Array.from({ length: 20 }, (_, i) => `TS${String(i + 1).padStart(4, '0')}L9`));
  for (const v of vols) {
    assert.deepEqual([v.library, v.volumeFamily, v.eodFileNo, v.remainingBytes], ['lto9', 'none.none.none', null, v.capacityBytes], v.label);
  }
  assert.deepEqual(vols[4]!.location, { kind: 'slot', ref: '5' });
  assert.match(await ok('volume', 'files', 'TS0001L9'), /no files on TS0001L9/);
});

test('namespace: mkdir -p, tags inherited with their origin, ls', async () => {
  await ok('ns', 'mkdir', '-p', '/exp/raw/sub');
  await ok('ns', 'tag', 'set', '/exp/raw', 'file_family', 'raw');
  await ok('ns', 'tag', 'set', '/exp/raw', 'file_family_width', '2');
  const list = await ok('ns', 'tag', 'list', '/exp/raw/sub');
  assert.match(list, /^file_family\s+raw\s+\/exp\/raw$/m);
  assert.match(list, /^file_family_width\s+2\s+\/exp\/raw$/m);
  assert.match(list, /^file_family_wrapper\s+cpio_odc\s+\(default\)$/m);
  assert.match(list, /^library\s+lto9\s+\(default\)$/m);
  assert.match(await ok('ns', 'ls', '-l', '/exp/raw'), /^drwxr-xr-x\s+\S+\s+-\s+dir\s+-\s+\S+\s+sub\/$/m);
});

test('volumes: add, user and system inhibits, clear', async () => {
  const added = JSON.parse(await ok('volume', 'add', 'TS0100L9', '--library', 'lto9', '--media-type', 'LTO9', '--storage-group', 'cms', '--json')) as { volumeFamily: string };
  assert.equal(added.volumeFamily, 'cms.none.none');
  await ok('volume', 'set', 'TS0002L9', 'readonly');
  assert.match(await ok('volume', 'set', 'TS0003L9', 'noaccess', '--system', '--reason', 'test'), /TS0003L9: system access inhibit NOACCESS/);
  const list = await ok('volume', 'list');
  assert.match(list, /^LABEL\s+LIBRARY\s+VOLUME FAMILY/);
  assert.match(list, /TS0002L9 .*\[none, none\] \[none, readonly\]/);
  assert.match(list, /TS0003L9 .*\[NOACCESS, none\] \[none, none\]/);
  assert.match(list, /TS0100L9\s+lto9\s+cms\.none\.none\s+18\.0 TB\s+blank/);
  assert.match(await ok('volume', 'clear', 'TS0003L9', 'system', 'access'), /inhibits now \[none, none\] \[none, none\]/);
  assert.match(await ok('alarm', 'list'), /no open alarms/);
});

test('bad input gives exit 1 or 2 and a message that says what is wrong', async () => {
  await fails(2, /USERERROR: illegal value "raw data" for tag file_family: only letters, digits/, 'ns', 'tag', 'set', '/exp/raw', 'file_family', 'raw data');
  await fails(1, /EXISTS: directory \/exp\/raw already exists/, 'ns', 'mkdir', '/exp/raw');
  await fails(1, /NO_SUCH_VOLUME: no volume TS0999L9/, 'volume', 'info', 'TS0999L9');
  await fails(2, /error: missing required argument 'dir'/, 'ns', 'mkdir');
});
