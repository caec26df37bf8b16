import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MediaChangerService } from '../../media-changer/service.ts';
import { planImport } from '../../shelf/import-plan.ts';
import { ShelfFetchAlarms } from '../../shelf/fetch-alarms.ts';
import { EjectJobs, type EjectJobData } from '../../shelf/eject-job.ts';
import { ShelfService, type EjectAttempt } from '../../shelf/service.ts';
import { TapestryError } from '../../src/errors/index.ts';
import { silentLogger } from '../../src/logging/index.ts';
import { VirtualClock } from '../../src/time/clock.ts';
import { catalogue, seedLibraries, type Catalogue } from '../helpers/catalogue.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';

/**
 * The shelf component against real PostgreSQL, with a robot of 6 slots and
 * 2 mail slots in memory: eject (mail slots full, busy volumes), import
 * (known, blank, foreign), shelf policy history, the fetch alarm raised once.
 */
let pgt: TestPostgres;
before(async () => { pgt = await startTestPostgres(); });
after(async () => { await pgt.stop(); });

/** Just the MediaChangerService calls the shelf makes, on arrays. */
class FakeChanger {
  readonly slots: (string | null)[] = ['VOL001', 'VOL002', 'VOL003', 'VOL004', null, null];
  readonly mail: (string | null)[] = [null, null];
  hasLibrary(name: string): boolean { return name === 'lib'; }
  libraries(): { name: string }[] { return [{ name: 'lib' }]; }
  async inventory(): Promise<{ mediaType: string; mailslots: { mailslot: number; label: string | null }[] }> {
    return { mediaType: 'TEST', mailslots: this.mail.map((label, i) => ({ mailslot: i + 1, label })) };
  }
  async exit(label: string): Promise<{ label: string; slot: number; mailslot: number }> {
    const s = this.slots.indexOf(label);
    const m = this.mail.indexOf(null);
    if (m === -1) throw new TapestryError('ELEMENT_FULL', 'no free mail slot');
    this.slots[s] = null;
    this.mail[m] = label;
    return { label, slot: s + 1, mailslot: m + 1 };
  }
  async enter(label: string): Promise<{ label: string; mailslot: number; slot: number }> {
    const m = this.mail.indexOf(label);
    const s = this.slots.indexOf(null);
    this.mail[m] = null;
    this.slots[s] = label;
    return { label, mailslot: m + 1, slot: s + 1 };
  }
}

interface Rig extends Catalogue {
  readonly changer: FakeChanger;
  readonly shelf: ShelfService;
  readonly returned: string[][];
  busy: string[];
}

async function fresh(blank: Record<string, boolean> = {}): Promise<Rig> {
  const pool = await pgt.pool();
  await seedLibraries(pool);
  const cat = catalogue(pool);
  const changer = new FakeChanger();
  for (const [i, label] of ['VOL001', 'VOL002', 'VOL003', 'VOL004'].entries()) {
    await cat.volumes.addVolume({ label, library: 'lib', mediaType: 'TEST' });
    await cat.volumes.setLocation(label, { kind: 'slot', ref: String(i + 1) });
  }
  const rig = { ...cat, changer, returned: [] as string[][], busy: [] as string[] } as Rig;
  (rig as { shelf: ShelfService }).shelf = new ShelfService({
    pool,
    clock: cat.clock,
    log: silentLogger(),
    volumes: cat.volumes,
    changers: [changer as unknown as MediaChangerService],
    isBlank: async (label) => blank[label] ?? null,
    onReturned: (_lib, labels) => rig.returned.push([...labels]),
    busyVolumes: () => rig.busy,
  });
  return rig;
}

test('planImport: known volumes return, unknown blank ones are declared, foreign and other libraries stay', () => {
  const slot = { kind: 'shelf', ref: 'rack 3' };
  assert.deepEqual(planImport('lib', [
    { label: 'FOR001', mailslot: 3, volume: null, blank: false },
    { label: 'NEW001', mailslot: 2, volume: null, blank: true },
    { label: 'VOL001', mailslot: 1, volume: { library: 'lib', location: slot }, blank: null },
    { label: 'OTH001', mailslot: 4, volume: { library: 'other', location: slot }, blank: null },
    { label: 'UNK001', mailslot: 5, volume: null, blank: null },
  ]), [
    { kind: 'return', label: 'VOL001', mailslot: 1, from: 'shelf rack 3' },
    { kind: 'declare', label: 'NEW001', mailslot: 2 },
    { kind: 'leave', label: 'FOR001', mailslot: 3, reason: 'unknown volume with data on it: use import-metadata' },
    { kind: 'leave', label: 'OTH001', mailslot: 4, reason: 'volume OTH001 belongs to library other' },
    { kind: 'leave', label: 'UNK001', mailslot: 5, reason: 'unknown volume and its contents cannot be checked here' },
  ]);
});

test('eject: busy volumes are refused, the mail slots fill up, --max stops early; ejected volumes are on the shelf with their policy', async () => {
  const rig = await fresh();
  rig.busy = ['VOL002'];
  const r = await rig.shelf.eject(['VOL001', 'VOL002', 'VOL003', 'VOL004'], { shelf: 'rack 3', policy: 'operator', actor: 'alice' });
  assert.deepEqual(r.map((x) => [x.label, x.action, x.mailslot]), [['VOL001', 'ejected', 1], ['VOL002', 'refused', null], ['VOL003', 'ejected', 2], ['VOL004', 'not-done', null]]);
  assert.match(r[1]!.message, /assigned to a mover/);
  assert.match(r[3]!.message, /mail slots are full/);
  const v1 = await rig.volumes.getVolume('VOL001');
  assert.deepEqual([v1.location, v1.shelfPolicy], [{ kind: 'shelf', ref: 'rack 3' }, 'operator']);
  assert.equal((await rig.volumes.getVolume('VOL004')).location.kind, 'slot');
  const history = await rig.volumes.history('VOL001');
  assert.ok(history.some((h) => h.kind === 'location' && h.value === 'shelf:rack 3' && h.actor === 'alice'));
  assert.ok(history.some((h) => h.kind === 'shelf_policy' && h.oldValue === 'fail' && h.value === 'operator'));

  rig.changer.mail.fill(null); // the operator takes them
  const again = await rig.shelf.eject(['VOL004', 'VOL001'], { shelf: null, policy: 'fail', max: 1, actor: 'alice' });
  assert.deepEqual(again.map((x) => x.action), ['ejected', 'not-done']);
  assert.match(again[1]!.message, /--max 1 reached/);
});

test('a read of a shelved volume: policy fail refuses with SHELVED naming the shelf, operator lets it queue', async () => {
  const rig = await fresh();
  await rig.shelf.eject(['VOL001'], { shelf: 'rack 3', policy: 'fail', actor: 'op' });
  await assert.rejects(rig.volumes.checkAvailable('VOL001', 'read'), (e: TapestryError) => e.code === 'SHELVED' && /shelf "rack 3"/.test(e.message));
  await rig.shelf.setShelfPolicy('VOL001', 'operator', 'op');
  assert.equal((await rig.volumes.checkAvailable('VOL001', 'read')).needsOperator, true);
  await assert.rejects(rig.shelf.setShelfPolicy('NOPE01', 'fail', 'op'), (e: TapestryError) => e.code === 'NO_SUCH_VOLUME');
});

test('import: a shelved volume returns to a slot, an unknown blank cartridge is declared, a foreign one stays', async () => {
  const rig = await fresh({ NEW001: true, FOR001: false });
  await rig.shelf.eject(['VOL001'], { shelf: 'rack 3', policy: 'operator', actor: 'op' });
  rig.changer.mail.splice(0, 2, 'VOL001', 'NEW001');
  rig.changer.mail.push('FOR001');
  const r = await rig.shelf.importVolumes();
  assert.deepEqual(r.map((x) => [x.label, x.action, x.slot]), [['VOL001', 'returned', 1], ['NEW001', 'declared', 5], ['FOR001', 'left', null]]);
  assert.deepEqual((await rig.volumes.getVolume('VOL001')).location, { kind: 'slot', ref: '1' });
  const added = await rig.volumes.getVolume('NEW001');
  assert.deepEqual([added.location, added.volumeFamily, added.eodFileNo], [{ kind: 'slot', ref: '5' }, 'none.none.none', null]);
  assert.deepEqual(rig.returned, [['VOL001']]);
  assert.deepEqual(rig.changer.mail, [null, null, 'FOR001']);
  await assert.rejects(rig.shelf.importVolumes('nolib'), (e: TapestryError) => e.code === 'USERERROR' && /unknown library "nolib"/.test(e.message));
});

test('the fetch alarm is raised once per trip to the shelf and resolved when the volume is back', async () => {
  const rig = await fresh();
  const alarms = new ShelfFetchAlarms(rig.alarms, silentLogger());
  alarms.raise([{ label: 'VOL001', shelf: 'rack 3' }]);
  alarms.raise([{ label: 'VOL001', shelf: 'rack 3' }]);
  const list = await (async () => {
    for (;;) {
      const l = await rig.alarms.list();
      if (l.length > 0) return l;
      await new Promise((r) => setImmediate(r));
    }
  })();
  assert.equal(list.length, 1);
  assert.equal(list[0]!.count, 1);
  assert.match(list[0]!.message, /bring volume VOL001 back from shelf "rack 3"/);
  await alarms.returned(['VOL001']);
  assert.deepEqual(await rig.alarms.list(), [], 'the import resolved it');
  const [resolved] = await rig.alarms.list({ all: true });
  assert.equal(resolved!.resolvedBy, 'system: the volume was imported');
  alarms.raise([{ label: 'VOL001', shelf: 'rack 3' }]);
  for (;;) {
    const open = await rig.alarms.list();
    if (open.length === 1) {
      assert.equal(open[0]!.count, 1, 'the next trip to the shelf is a new alarm');
      assert.notEqual(open[0]!.id, resolved!.id);
      break;
    }
    await new Promise((r) => setImmediate(r));
  }
});

test('the eject job waits for a busy volume and for full mail slots, and never retries a refusal', async () => {
  const clock = new VirtualClock();
  // What the shelf answers, per label, attempt after attempt.
  const script: Record<string, EjectAttempt[]> = {
    BUSY01: [{ outcome: 'busy', message: 'in drive D1' }, { outcome: 'ejected', mailslot: 1, message: 'ok' }],
    FULL01: [{ outcome: 'full', message: 'full' }, { outcome: 'full', message: 'full' }, { outcome: 'ejected', mailslot: 1, message: 'ok' }],
    GONE01: [{ outcome: 'refused', message: 'already on the shelf' }],
    MAXD01: [{ outcome: 'ejected', mailslot: 2, message: 'never asked' }],
  };
  const asked: string[] = [];
  let handler: ((data: EjectJobData, job: { id: string; name: string; queue: string }) => Promise<unknown>) | undefined;
  let run: Promise<unknown> | undefined;
  const ejects = new EjectJobs({
    shelf: { tryEject: async (label) => { asked.push(label); return script[label]!.shift()!; } },
    jobs: {
      define: (_q: string, _n: string, h: unknown) => { handler = h as typeof handler; },
      enqueue: async (_q: string, _n: string, data: unknown) => { run = handler!(data as EjectJobData, { id: '7', name: 'eject', queue: 'shelf' }); return '7'; },
    } as never,
    clock,
    log: silentLogger(),
    pollMs: 1000,
  });
  const started = await ejects.start({ labels: ['BUSY01', 'GONE01', 'FULL01', 'MAXD01'], max: 2, policy: 'fail', shelf: null, actor: 'op' });
  assert.equal(started.job, '7');
  const waiting = async (what: RegExp): Promise<void> => {
    while (!(ejects.status('7').state === 'waiting' && what.test(ejects.status('7').waitingFor ?? ''))) await new Promise((r) => setImmediate(r));
  };
  await waiting(/BUSY01 \(in drive D1\) to be dismounted/);
  await clock.advance(1000);
  await waiting(/the operator to empty the mail slots/);
  await clock.advance(1000);
  await clock.advance(1000);
  await run;
  const p = ejects.status('7');
  assert.equal(p.state, 'done');
  assert.deepEqual(p.results.map((r) => [r.label, r.action]), [['BUSY01', 'ejected'], ['GONE01', 'refused'], ['FULL01', 'ejected'], ['MAXD01', 'not-done']]);
  assert.deepEqual(asked, ['BUSY01', 'BUSY01', 'GONE01', 'FULL01', 'FULL01', 'FULL01']);
  assert.throws(() => ejects.status('8'), (e: TapestryError) => e.code === 'NOT_FOUND');
});
