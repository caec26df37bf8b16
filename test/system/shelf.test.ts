import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { encp, tapestry, type CliResult } from '../helpers/cli.ts';
import { withSystem } from '../helpers/system-fixture.ts';

/**
 * The shelf as an operator drives it: eject volumes through the 4 mail slots,
 * empty them (`sim mailslot take`), read from shelved volumes under both shelf
 * policies, put a volume back and `volume import` it. One `tapestry start`.
 */
let env: NodeJS.ProcessEnv;
let work: string;

// A slow tape (10 KB/s of simulated time, at time scale 0.001 about 10 MB/s of
// real time) so a 50 MB read (about 5 s) runs long enough to try to eject its volume meanwhile.
withSystem({ timeScale: 0.001, replace: [[/^    dismount_delay: 60s/m, '    dismount_delay: 1s'], [/^    rate: 400MB\/s/m, '    rate: 10KB/s']] }, (s) => {
  ({ env, work } = s);
});

async function ok(...args: string[]): Promise<string> {
  const r = await tapestry(args, env);
  assert.equal(r.code, 0, `tapestry ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function run(...args: string[]): Promise<CliResult> {
  return tapestry(args, env);
}

type Vol = { label: string; eodFileNo: number | null; location: { kind: string; ref: string | null }; shelfPolicy: string };
const volume = async (label: string): Promise<Vol> => JSON.parse(await ok('volume', 'info', label, '--json')) as Vol;

/** Poll until `check` holds: the system acts by itself (dismounts, scheduling), tests wait for the state, not for time. */
async function until<T>(what: string, probe: () => Promise<T>, check: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = await probe();
    if (check(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

const written: Record<string, { volume: string; local: string }> = {};

test('files written into two families land on two volumes, which go home to their slots', async () => {
  for (const ff of ['alpha', 'beta', 'gamma']) {
    await ok('ns', 'mkdir', '-p', `/shelf/${ff}`);
    await ok('ns', 'tag', 'set', `/shelf/${ff}`, 'file_family', ff);
    const local = path.join(work, `${ff}.dat`);
    await fs.writeFile(local, randomBytes(ff === 'gamma' ? 50_000_000 : 200_000));
    const w = await encp([local, `/shelf/${ff}/f.dat`], env);
    assert.equal(w.code, 0, w.stderr);
    const info = JSON.parse(await ok('file', 'info', `/shelf/${ff}/f.dat`, '--json')) as { volume: string };
    written[ff] = { volume: info.volume, local };
  }
  assert.equal(new Set(Object.values(written).map((w) => w.volume)).size, 3);
  for (const { volume: v } of Object.values(written)) await until(`${v} dismounted`, () => volume(v), (x) => x.location.kind === 'slot');
});

test('sim mailslot show lists 4 empty mail slots; bad input is named', async () => {
  const out = await ok('sim', 'mailslot', 'show');
  assert.match(out, /^MAILSLOT\s+LABEL$/m);
  assert.equal((out.match(/\(empty\)/g) ?? []).length, 4);
  const bad = await run('sim', 'mailslot', 'put', 'ts01');
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /USERERROR: illegal cartridge label "ts01"/);
  const policy = await run('volume', 'set-shelf-policy', 'TS0001L9', 'sometimes');
  assert.equal(policy.code, 2);
  assert.match(policy.stderr, /USERERROR: shelf policy must be "fail" .* or "operator"/);
  const noVol = await run('volume', 'set-shelf-policy', 'TS0999L9', 'fail');
  assert.equal(noVol.code, 1);
  assert.match(noVol.stderr, /NO_SUCH_VOLUME: no volume TS0999L9/);
});

type Progress = { job: string; state: string; waitingFor: string | null; results: { label: string; action: string; mailslot: number | null; message: string }[] };
// Straight from the REST route: a CLI run costs a second, longer than some states last.
const progress = async (job: string): Promise<Progress> => (await fetch(`${env.TAPESTRY_URL}/api/v1/volumes/eject/${job}`)).json() as Promise<Progress>;

test('eject 5 volumes through 4 mail slots as a job: it waits for a running read, then for the operator to empty the mail slots', async () => {
  const { alpha, beta, gamma } = { alpha: written.alpha!.volume, beta: written.beta!.volume, gamma: written.gamma!.volume };
  // A long read of gamma holds its volume in a drive.
  const out = path.join(work, 'gamma.back');
  const reading = encp(['/shelf/gamma/f.dat', out], env);
  const restVolume = async (label: string): Promise<Vol> => (await fetch(`${env.TAPESTRY_URL}/api/v1/volumes/${label}`)).json() as Promise<Vol>;
  await until(`${gamma} mounted for the read`, () => restVolume(gamma), (v) => v.location.kind === 'drive');

  const started = await ok('volume', 'eject', gamma, alpha, beta, 'TS0015L9', 'TS0016L9', '--on-access', 'fail', '--shelf', 'rack 3', '--no-wait');
  const job = /eject job (\S+) started/.exec(started)?.[1];
  assert.ok(job, started);
  const waitedForRead = await until('the job to wait for the read, or go past it', () => progress(job), (p) => p.results.length > 0 || /to be dismounted/.test(p.waitingFor ?? ''));
  const r = await reading;
  assert.equal(r.code, 0, `the read was interrupted: ${r.stderr}`);
  assert.deepEqual(await fs.readFile(out), await fs.readFile(written.gamma!.local));
  assert.equal(waitedForRead.results.length, 0, 'the job ejected something while the read ran');
  assert.match(waitedForRead.waitingFor ?? '', new RegExp(`${gamma} \\(in drive .*\\) to be dismounted`));

  const stuck = await until('the mail slots to fill', () => progress(job), (p) => p.state === 'waiting' && p.waitingFor === 'the operator to empty the mail slots');
  assert.deepEqual(stuck.results.map((x) => [x.label, x.action]), [[gamma, 'ejected'], [alpha, 'ejected'], [beta, 'ejected'], ['TS0015L9', 'ejected']]);
  assert.deepEqual((await volume(alpha)).location, { kind: 'shelf', ref: 'rack 3' });
  assert.equal((await volume('TS0016L9')).location.kind, 'slot');
  assert.match(await ok('volume', 'eject-status', job), /: waiting \(waiting for the operator to empty the mail slots\)/);
  assert.match(await ok('sim', 'mailslot', 'show'), new RegExp(`^I1\\s+${gamma}$`, 'm'));

  assert.match(await ok('sim', 'mailslot', 'take'), new RegExp(`took ${gamma} ${alpha} ${beta} TS0015L9 to the shelf`));
  const done = await ok('volume', 'eject-status', job, '--wait');
  assert.match(done, /: done/);
  assert.match(done, /^TS0016L9\s+ejected\s+I1\s/m);
  await ok('sim', 'mailslot', 'take');

  const again = await run('volume', 'eject', alpha, '--on-access', 'fail');
  assert.equal(again.code, 1);
  assert.match(again.stdout, /refused\s+-\s+already on the shelf \(rack 3\)/);
  assert.match(await ok('volume', 'history', alpha), /shelf:rack 3/);
  const bad = await run('volume', 'eject', alpha, '--on-access', 'never');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /USERERROR: shelf policy must be "fail"/);
});

test('a read from a shelved volume with policy fail fails at once with SHELVED naming the shelf', async () => {
  const r = await encp(['/shelf/alpha/f.dat', path.join(work, 'alpha.back')], env);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`SHELVED: .*Volume ${written.alpha!.volume} is on shelf "rack 3"`));
});

test('policy operator: the read waits, an alarm asks for the volume, and after put + import the read completes', async () => {
  const beta = written.beta!.volume;
  assert.match(await ok('volume', 'set-shelf-policy', beta, 'operator'), new RegExp(`${beta}: shelf policy fail -> operator`));
  assert.match(await ok('volume', 'history', beta), /shelf_policy/);
  const out = path.join(work, 'beta.back');
  const reading = encp(['/shelf/beta/f.dat', out], env);
  const alarms = await until('the fetch alarm', () => ok('alarm', 'list'), (s) => s.includes(`bring volume ${beta} back from shelf "rack 3"`));
  assert.match(alarms, /SHELVED/);

  const put = await ok('sim', 'mailslot', 'put', beta, 'TS0099L9');
  assert.match(put, new RegExp(`^${beta}\\s+from the shelf$`, 'm'));
  assert.match(put, /^TS0099L9\s+new blank$/m);
  const imported = await ok('volume', 'import');
  assert.match(imported, new RegExp(`^${beta}\\s+I1\\s+returned\\s+\\d+\\s+back from shelf rack 3$`, 'm'));
  assert.match(imported, /^TS0099L9\s+I2\s+declared\s+\d+\s+new blank volume in the common pool$/m);
  const r = await reading;
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await fs.readFile(out), await fs.readFile(written.beta!.local));
  assert.equal((await volume('TS0099L9')).eodFileNo, null);
  assert.equal((await volume(beta)).location.kind !== 'shelf', true);
  assert.match(await ok('volume', 'import'), /the mail slots are empty: nothing to import/);
});

test('policy fail set while a read waits for its volume: the read fails with SHELVED at the next scheduling pass', async () => {
  const alpha = written.alpha!.volume;
  await ok('volume', 'set-shelf-policy', alpha, 'operator');
  const out = path.join(work, 'alpha.back2');
  const reading = encp(['/shelf/alpha/f.dat', out], env);
  await until('the fetch alarm for alpha', () => ok('alarm', 'list'), (s) => s.includes(`bring volume ${alpha} back from shelf`));
  await ok('volume', 'set-shelf-policy', alpha, 'fail');
  // Any new request runs a scheduling pass: read beta's file, back in the library.
  const other = await encp(['/shelf/beta/f.dat', path.join(work, 'beta.back2')], env);
  assert.equal(other.code, 0, other.stderr);
  const r = await reading;
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`SHELVED: .*volume ${alpha} went to shelf "rack 3" while this read was queued`));
  await assert.rejects(fs.stat(out), 'nothing is left at the destination');
});
