import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { encp, tapestry, type CliResult, type RunningTapestry } from '../helpers/cli.ts';
import { withSystem } from '../helpers/system-fixture.ts';
import type { TestInstallation } from '../helpers/system-config.ts';

/**
 * The operators' volume administration as an operator drives it: the real
 * `tapestry` and `encp` binaries against one `tapestry start` (simulated
 * library, 20 blank cartridges). Lifecycle, inhibits with real writes and
 * reads, recycle and reuse of a tape, quotas, automatic read-only. The rules
 * themselves are table-tested in test/integration/volume-lifecycle.test.ts.
 */
let inst: TestInstallation;
let sys: RunningTapestry;
let env: NodeJS.ProcessEnv;
let work: string;

interface Vol { label: string; volumeFamily: string; storageGroup: string; eodFileNo: number | null; remainingBytes: number; capacityBytes: number; mounts: number; writeProtected: string; comment: string; systemInhibit: { access: string; state: string }; userInhibit: { access: string; state: string }; location: { kind: string }; activeFiles: number }

withSystem({
    replace: [
      [/^    dismount_delay: 60s.*$/m, '    dismount_delay: 1s'],
      // Files of family "stale" are old after 1 ms; every other family after 30 days.
      [/^    mount_max_age: 2s.*$/m, '    mount_max_age: 2s\n    auto_readonly: { every: 1h, older_than: 30d, families: { stale: { older_than: 1ms } } }'],
    ],
  }, (s) => {
  ({ inst, sys, env, work } = s);
});

async function ok(...args: string[]): Promise<string> {
  const r = await tapestry(args, env);
  assert.equal(r.code, 0, `tapestry ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function fails(code: number, pattern: RegExp, r: CliResult | Promise<CliResult>): Promise<string> {
  const res = await r;
  assert.equal(res.code, code, `exit ${res.code}: ${res.stdout}${res.stderr}`);
  assert.match(res.stderr, pattern);
  assert.doesNotMatch(res.stderr, /\n\s+at /, 'a stack trace instead of a message');
  return res.stderr;
}

const api = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
  const res = await fetch(`${sys.url}/api/v1${p}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await res.json()) as T;
  assert.ok(res.ok, `${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};
const volume = (label: string): Promise<Vol> => api<Vol>('GET', `/volumes/${label}`);
const volumeOf = async (nsPath: string): Promise<string> => (await api<{ volume: string }>('GET', `/files/info?path=${encodeURIComponent(nsPath)}`)).volume;

async function family(dir: string, ff: string, sg?: string): Promise<void> {
  await ok('ns', 'mkdir', '-p', dir);
  await ok('ns', 'tag', 'set', dir, 'file_family', ff);
  if (sg) await ok('ns', 'tag', 'set', dir, 'storage_group', sg);
}

async function put(nsPath: string, size = 20_000): Promise<string> {
  const src = path.join(work, `${path.basename(nsPath)}-${randomBytes(4).toString('hex')}`);
  await fs.writeFile(src, randomBytes(size));
  const r = await encp([src, nsPath], env);
  assert.equal(r.code, 0, `encp ${src} ${nsPath}: ${r.stderr}`);
  return src;
}

async function readBack(nsPath: string, original: string): Promise<void> {
  const dst = path.join(work, `back-${randomBytes(4).toString('hex')}`);
  const r = await encp([nsPath, dst], env);
  assert.equal(r.code, 0, `encp ${nsPath}: ${r.stderr}`);
  assert.ok((await fs.readFile(dst)).equals(await fs.readFile(original)), `${nsPath} read back differs`);
}

/** Wait (for the library manager's dismount, dismount_delay 1 s here) until the volume is back in its slot. */
async function dismounted(label: string): Promise<void> {
  while ((await volume(label)).location.kind !== 'slot') await new Promise((r) => setTimeout(r, 200));
}

test('lifecycle round trip on a spare cartridge: add, write-protect, comment, storage group, history; bad input is named', async () => {
  assert.match(await ok('volume', 'add', 'TS0021L9', '--library', 'lto9', '--media-type', 'LTO9'), /TS0021L9 declared in lto9 \(none\.none\.none, 18\.0 TB\)/);
  assert.match(await ok('volume', 'write-protect', 'TS0021L9', 'on', '--reason', 'tab found set'), /TS0021L9: write protection on/);
  assert.match(await ok('volume', 'set-comment', 'TS0021L9', 'spare from the vault'), /TS0021L9: comment "spare from the vault"/);
  assert.match(await ok('volume', 'assign-sg', 'TS0021L9', 'cms'), /TS0021L9 is now in the cms blank pool \(cms\.none\.none\)/);
  const info = await ok('volume', 'info', 'TS0021L9');
  assert.match(info, /^write protected:\s+y$/m);
  assert.match(info, /^comment:\s+spare from the vault$/m);
  const history = await ok('volume', 'history', 'TS0021L9');
  assert.match(history, /^AT\s+LABEL\s+KIND\s+OLD\s+NEW\s+BY\s+REASON$/m);
  assert.match(history, /TS0021L9\s+declared\s+-\s+none\.none\.none/);
  assert.match(history, /TS0021L9\s+write_protect\s+n\s+y\s+\S+\s+tab found set/);
  assert.match(history, /TS0021L9\s+comment\s+spare from the vault/);
  assert.match(history, /TS0021L9\s+storage_group\s+none\s+cms/);

  // Never written: delete removes it, the history stays.
  assert.match(await ok('volume', 'delete', 'TS0021L9'), /TS0021L9 removed \(it was never written\)/);
  assert.match(await ok('volume', 'history', 'TS0021L9'), /removed\s+TS0021L9/);
  await fails(1, /NO_SUCH_VOLUME: no volume TS0021L9/, tapestry(['volume', 'info', 'TS0021L9'], env));

  await fails(2, /USERERROR: illegal volume label "ts21": 6 to 8 capital letters and digits/, tapestry(['volume', 'add', 'ts21', '--library', 'lto9', '--media-type', 'LTO9'], env));
  await fails(2, /USERERROR: unknown media type "LTO8"/, tapestry(['volume', 'add', 'TS0022L9', '--library', 'lto9', '--media-type', 'LTO8'], env));
  await fails(1, /EXISTS: volume TS0001L9 already exists/, tapestry(['volume', 'add', 'TS0001L9', '--library', 'lto9', '--media-type', 'LTO9'], env));
  await fails(2, /USERERROR: write-protect takes on or off, not "maybe"/, tapestry(['volume', 'write-protect', 'TS0001L9', 'maybe'], env));
  await fails(2, /USERERROR: illegal volume label "TS1"/, tapestry(['volume', 'delete', 'TS1'], env));
  await fails(2, /USERERROR: only a deleted volume \(LABEL\.deleted\) can be erased; TS0001L9 is not deleted/, tapestry(['volume', 'erase', 'TS0001L9'], env));
  await fails(2, /USERERROR: unknown inhibit "sleepy"/, tapestry(['volume', 'set', 'TS0001L9', 'sleepy'], env));
});

test('an operator\'s readonly: writes of the family go to another volume, or fail NOVOLUME naming the inhibit; reads still work', async () => {
  await family('/exp/ro', 'ro');
  const first = await put('/exp/ro/one.dat');
  const v1 = await volumeOf('/exp/ro/one.dat');
  assert.match(await ok('volume', 'set', v1, 'readonly', '--reason', 'precious'), new RegExp(`${v1}: user state inhibit readonly`));
  await put('/exp/ro/two.dat');
  const v2 = await volumeOf('/exp/ro/two.dat');
  assert.notEqual(v2, v1, 'the second file went to another volume');
  await readBack('/exp/ro/one.dat', first);

  // No volume left for the family: its second volume readonly too, every blank NOTALLOWED for a moment.
  await ok('volume', 'set', v2, 'readonly');
  const blanks = (await api<Vol[]>('GET', '/volumes')).filter((v) => v.eodFileNo === null && v.userInhibit.access === 'none').map((v) => v.label);
  await Promise.all(blanks.map((b) => api('POST', `/volumes/${b}/inhibits`, { kind: 'user', field: 'access', value: 'NOTALLOWED', reason: 'test' })));
  try {
    const src = path.join(work, 'three.dat');
    await fs.writeFile(src, randomBytes(1000));
    const stderr = await fails(1, /NOVOLUME/, encp([src, '/exp/ro/three.dat'], env));
    assert.match(stderr, /no new volumes available \[lto9, default\.ro\.cpio_odc\]; this family's volumes are not writable: /);
    assert.match(stderr, new RegExp(`${v1} is readonly \\(set by an operator\\)`));
    assert.match(await ok('alarm', 'list'), /NOVOLUME\S*\s.*no new volumes available \[lto9, default\.ro\.cpio_odc\]; this family's volumes are not writable/);
  } finally {
    await Promise.all(blanks.map((b) => api('DELETE', `/volumes/${b}/inhibits?kind=user&field=access`)));
  }
  await readBack('/exp/ro/one.dat', first);
  // The operator's readonly survives the system clearing its own.
  await ok('volume', 'clear', v1, 'system');
  assert.equal((await volume(v1)).userInhibit.state, 'readonly');
});

test('delete is refused while files are active; after ns rm: LABEL.deleted, restore; recycle, and the tape takes new files from position 1', async () => {
  await family('/exp/del', 'del');
  await put('/exp/del/a.dat');
  const v = await volumeOf('/exp/del/a.dat');
  await dismounted(v);
  await fails(1, new RegExp(`CONFLICT: cannot delete ${v}: 1 active file on it; delete them first`), tapestry(['volume', 'delete', v], env));
  await ok('ns', 'rm', '/exp/del/a.dat');
  assert.match(await ok('volume', 'delete', v, '--reason', 'retired'), new RegExp(`${v} deleted: now ${v}\\.deleted`));
  assert.match(await ok('volume', 'info', `${v}.deleted`), /^system inhibit:\s+DELETED none$/m);
  assert.match(await ok('volume', 'files', `${v}.deleted`), /^1\s+\S+\s+20000\s+deleted\s+\S+\s+\/exp\/del\/a\.dat$/m);
  await fails(1, /NO_SUCH_VOLUME/, tapestry(['volume', 'info', v], env));
  assert.match(await ok('volume', 'restore', `${v}.deleted`), new RegExp(`${v}\\.deleted restored as ${v} \\(default\\.del\\.cpio_odc\\)`));

  const before = await volume(v);
  const out = await ok('volume', 'recycle', v, '--json');
  const recycled = JSON.parse(out) as Vol;
  assert.deepEqual(
    [recycled.volumeFamily, recycled.eodFileNo, recycled.remainingBytes, recycled.mounts],
    ['default.none.none', null, recycled.capacityBytes, before.mounts],
  );
  assert.match(await ok('volume', 'history', v), /recycled\s+default\.del\.cpio_odc\s+default\.none\.none/);
  // The recycled tape is the default storage group's blank: the next new family of that group gets it at file 1.
  await family('/exp/reuse', 'reuse');
  const src = await put('/exp/reuse/b.dat');
  assert.equal(await volumeOf('/exp/reuse/b.dat'), v);
  assert.match(await ok('volume', 'files', v), /^1\s+\S+\s+20000\s+active\s+\S+\s+\/exp\/reuse\/b\.dat$/m);
  await readBack('/exp/reuse/b.dat', src);
});

test('quota: 0 volumes for a storage group makes its first write fail STORAGE_QUOTA_EXCEEDED with an alarm; raising it lets the write through', async () => {
  assert.match(await ok('quota', 'set', 'lto9', 'physics', '0'), /physics in lto9: quota 0, 0 volume\(s\) used/);
  await family('/exp/phys', 'p1', 'physics');
  const src = path.join(work, 'p.dat');
  await fs.writeFile(src, randomBytes(5000));
  await fails(1, /STORAGE_QUOTA_EXCEEDED: .*storage group physics has used its quota of volumes in lto9/, encp([src, '/exp/phys/p.dat'], env));
  assert.match(await ok('alarm', 'list'), /STORAGE_QUOTA_EXCEEDED\S*\s.*storage group physics has used its quota/);
  const shown = await ok('quota', 'show', '--library', 'lto9');
  assert.match(shown, /^LIBRARY\s+STORAGE GROUP\s+USED\s+QUOTA\s+BLANK\s+STATE$/m);
  assert.match(shown, /^lto9\s+physics\s+0\s+0\s+0\s+FULL: no more common-pool volumes$/m);
  assert.match(shown, /^common pool of lto9: \d+ blank volume\(s\)$/m);
  await fails(2, /USERERROR: a quota is a whole number of volumes >= 0, not "-1"/, tapestry(['quota', 'set', 'lto9', 'physics', '-1'], env));
  await fails(2, /USERERROR: unknown library "nolib"/, tapestry(['quota', 'set', 'nolib', 'physics', '1'], env));

  await ok('quota', 'set', 'lto9', 'physics', '1');
  const r = await encp([src, '/exp/phys/p.dat'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(await ok('quota', 'show'), /^lto9\s+physics\s+1\s+1\s+0\s+FULL/m);
});

test('auto-readonly: the configured policy is shown; --now closes the volumes of a family whose files are old enough', async () => {
  const policy = await ok('volume', 'auto-readonly');
  assert.match(policy, /^LIBRARY\s+OLDER THAN\s+FAMILY AGES\s+EVERY\s+NEXT RUN$/m);
  assert.match(policy, /^lto9\s+30d\s+stale=1ms\s+1h\s+\d{4}-/m);
  await family('/exp/stale', 'stale');
  const src = await put('/exp/stale/s.dat');
  const v = await volumeOf('/exp/stale/s.dat');
  const out = await ok('volume', 'auto-readonly', '--now');
  assert.match(out, /^lto9: 1 of \d+ written volume\(s\) set readonly \(files older than 30d\)$/m);
  assert.match(out, new RegExp(`^${v}\\s+stale\\s+\\S+\\s+1ms$`, 'm'));
  const vol = await volume(v);
  assert.deepEqual([vol.systemInhibit.state, vol.userInhibit.state], ['readonly', 'none']);
  assert.match(await ok('volume', 'history', v), /system_inhibit_state\s+none\s+readonly\s+auto-readonly\s+no file written since .* older than 1ms \(auto_readonly of file family stale\)/);
  await readBack('/exp/stale/s.dat', src);
  // Again: nothing left to do.
  assert.match(await ok('volume', 'auto-readonly', '--now'), /^lto9: 0 of \d+ written volume\(s\) set readonly/m);
  await fails(2, /USERERROR: --older-than must be a duration such as 30d/, tapestry(['volume', 'auto-readonly', '--now', '--older-than', 'ages'], env));
});
