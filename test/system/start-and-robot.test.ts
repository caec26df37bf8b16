import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startTapestry, tapestry, type RunningTapestry } from '../helpers/cli.ts';
import { makeTestInstallation, type TestInstallation } from '../helpers/system-config.ts';

interface Inventory {
  library: string;
  robotState: string;
  slots: { slot: number; label: string | null }[];
  drives: { name: string; element: number; label: string | null; homeSlot: number | null; state: string | null }[];
  mailslots: { mailslot: number; label: string | null }[];
}

let inst: TestInstallation;
let running: RunningTapestry | null = null;

before(async () => { inst = await makeTestInstallation(); });
after(async () => {
  await running?.stop('SIGKILL');
  await inst.remove();
});

async function inventory(url: string): Promise<Inventory> {
  const r = await tapestry(['robot', 'inventory', '--json'], { TAPESTRY_URL: url });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Inventory;
}

test('start, inventory, mount, Ctrl-C, restart with the same state, dismount', async () => {
  running = await startTapestry(inst.configFile);
  const url = running.url;

  const health = await (await fetch(`${url}/api/v1/health`)).json() as { status: string; database: { ok: boolean; schemaVersion: number } };
  assert.equal(health.status, 'ok');
  assert.equal(health.database.ok, true);

  let inv = await inventory(url);
  assert.equal(inv.library, 'lto9');
  assert.equal(inv.slots.length, 40);
  assert.deepEqual(inv.slots.filter((s) => s.label).map((s) => s.label), Array.from({ length: 20 }, (_, i) => `TS${String(i + 1).padStart(4, '0')}L9`));
  assert.deepEqual(inv.drives.map((d) => [d.name, d.label]), [['drive-1', null], ['drive-2', null], ['drive-3', null], ['drive-4', null]]);
  assert.equal(inv.mailslots.length, 4);

  const mount = await tapestry(['robot', 'mount', 'TS0001L9', 'drive-1'], { TAPESTRY_URL: url });
  assert.equal(mount.code, 0, mount.stderr);
  assert.match(mount.stdout, /TS0001L9 mounted on drive-1/);
  inv = await inventory(url);
  assert.equal(inv.drives[0]!.label, 'TS0001L9');
  assert.equal(inv.drives[0]!.homeSlot, 1);
  assert.equal(inv.drives[0]!.state, 'ready');
  assert.equal(inv.slots[0]!.label, null);

  // Ctrl-C: everything stops, including PostgreSQL.
  assert.equal(await running.stop('SIGINT'), 0);
  assert.match(running.output(), /shutdown.done/);
  assert.equal(existsSync(path.join(inst.dir, 'var/pg/postmaster.pid')), false, 'PostgreSQL still running after Ctrl-C');
  const down = await tapestry(['robot', 'inventory'], { TAPESTRY_URL: url });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /UNAVAILABLE: cannot reach Tapestry/);

  // The second start reuses the database and finds the cartridge where it was left.
  running = await startTapestry(inst.configFile);
  assert.doesNotMatch(running.output(), /creating a new PostgreSQL cluster/);
  inv = await inventory(running.url);
  assert.equal(inv.drives[0]!.label, 'TS0001L9');
  assert.equal(inv.drives[0]!.homeSlot, 1);
  const dismount = await tapestry(['robot', 'dismount', 'TS0001L9', 'drive-1'], { TAPESTRY_URL: running.url });
  assert.equal(dismount.code, 0, dismount.stderr);
  inv = await inventory(running.url);
  assert.equal(inv.drives[0]!.label, null);
  assert.equal(inv.slots[0]!.label, 'TS0001L9');

  // Operator mistakes get clear errors, not stack traces.
  const twice = await tapestry(['robot', 'dismount', 'TS0001L9', 'drive-1'], { TAPESTRY_URL: running.url });
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /ELEMENT_EMPTY: drive drive-1 holds no cartridge/);
  const unknown = await tapestry(['robot', 'mount', 'TS0099L9', 'drive-2'], { TAPESTRY_URL: running.url });
  assert.match(unknown.stderr, /NO_SUCH_VOLUME: no cartridge TS0099L9/);
  const badDrive = await tapestry(['robot', 'mount', 'TS0002L9', 'drive-9', '--library', 'lto9'], { TAPESTRY_URL: running.url });
  assert.match(badDrive.stderr, /NOT_FOUND: no drive "drive-9"/);
  const usage = await tapestry(['robot', 'mount', 'TS0002L9'], { TAPESTRY_URL: running.url });
  assert.equal(usage.code, 2);

  assert.equal(await running.stop('SIGINT'), 0);
  running = null;
});

test('a second start on a data directory in use is refused', async () => {
  running = await startTapestry(inst.configFile);
  const second = await tapestry(['start', '--config', inst.configFile]);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /CONFLICT: the database in .* is in use by process/);
  assert.equal(await running.stop('SIGINT'), 0);
  running = null;
});

test('config check lists every problem of a bad file and exits 1', async () => {
  const good = await tapestry(['config', 'check', inst.configFile]);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /ok \(1 libraries, 1 robots, 4 drives, 20 simulated cartridges\)/);
  const bad = path.join(inst.dir, 'bad.yaml');
  await fs.writeFile(bad, `
robots:
  r1: { device: sim, slots: 4, drives: 1, colour: blue }
media_types:
  LTO9: { capacity: lots, rate: 400MB/s, load: 16s, unload: 56s, locate_avg: 65s, rewind_avg: 62s }
libraries:
  lib: { robot: r2, media_type: LTO9 }
drives:
  - { name: d1, library: lib, element: 1 }
simulator:
  cartridges:
    - { labels: TS0001L9-TS0003L9, media_type: LTO9, robot: r1 }
    - { labels: TS0003L9, media_type: LTO9, robot: r1 }
`);
  const r = await tapestry(['config', 'check', bad, '--json']);
  assert.equal(r.code, 1);
  const problems = (JSON.parse(r.stdout) as { problems: { path: string; message: string }[] }).problems;
  const text = problems.map((p) => `${p.path}: ${p.message}`).join('\n');
  assert.match(text, /robots\.r1\.colour: unknown key/);
  assert.match(text, /media_types\.LTO9\.capacity: must be a size/);
  assert.match(text, /libraries\.lib\.robot: unknown robot "r2"/);
  assert.match(text, /duplicate label TS0003L9/);
});
