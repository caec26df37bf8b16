import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isTapestryError } from '../../src/errors/index.ts';
import { catalogue } from '../helpers/catalogue.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';

let pgt: TestPostgres;
before(async () => { pgt = await startTestPostgres(); });
after(async () => { await pgt.stop(); });

test('alarms are deduplicated by open key; resolving closes one and the next raise opens a new one', async () => {
  const { alarms, clock } = catalogue(await pgt.pool());
  const first = await alarms.raise({ key: 'NOVOLUME:lib:a.b.c', severity: 'warning', code: 'NOVOLUME', message: 'no new volumes', detail: { n: 1 } });
  await clock.advance(60_000);
  const again = await alarms.raise({ key: 'NOVOLUME:lib:a.b.c', severity: 'error', code: 'NOVOLUME', message: 'still no new volumes', detail: { n: 2 } });
  assert.equal(again.id, first.id);
  assert.equal(again.count, 2);
  assert.equal(again.severity, 'error');
  assert.equal(again.message, 'still no new volumes');
  assert.deepEqual(again.detail, { n: 2 });
  assert.equal(again.firstAt, first.firstAt);
  assert.equal(Date.parse(again.lastAt) - Date.parse(first.lastAt), 60_000);
  await alarms.raise({ key: 'ROBOT:robot-1', severity: 'critical', code: 'ROBOT_OPERATOR', message: 'door open' });
  assert.deepEqual((await alarms.list()).map((a) => a.key), ['ROBOT:robot-1', 'NOVOLUME:lib:a.b.c']);

  const resolved = await alarms.resolve(first.id, 'alice');
  assert.equal(resolved.resolvedBy, 'alice');
  assert.ok(resolved.resolvedAt);
  assert.equal((await alarms.resolve(first.id, 'bob')).resolvedBy, 'alice', 'resolving twice changes nothing');
  assert.deepEqual((await alarms.list()).map((a) => a.key), ['ROBOT:robot-1']);
  const reopened = await alarms.raise({ key: 'NOVOLUME:lib:a.b.c', severity: 'error', code: 'NOVOLUME', message: 'again' });
  assert.notEqual(reopened.id, first.id);
  assert.equal(reopened.count, 1);
  assert.equal((await alarms.list({ all: true })).length, 3);
  await assert.rejects(alarms.resolve(99_999), (err) => isTapestryError(err, 'NOT_FOUND'));
});

test('concurrent raises of one key make one open alarm with the right count', async () => {
  const { alarms } = catalogue(await pgt.pool());
  await Promise.all(Array.from({ length: 30 }, () => alarms.raise({ key: 'K', severity: 'info', code: 'X', message: 'm' })));
  const open = await alarms.list();
  assert.equal(open.length, 1);
  assert.equal(open[0]!.count, 30);
});

test('one cause, one alarm: a repeat keeps the worst severity seen; list filters by severity', async () => {
  const { alarms, clock } = catalogue(await pgt.pool());
  const key = 'CRC_MISMATCH:TAPE1';
  const first = await alarms.raise({ key, severity: 'warning', code: 'CRC_MISMATCH', message: 'm1' });
  await clock.advance(1000);
  await alarms.raise({ key, severity: 'critical', code: 'CRC_MISMATCH', message: 'm2' });
  await clock.advance(1000);
  const third = await alarms.raise({ key, severity: 'warning', code: 'CRC_MISMATCH', message: 'm3' });
  assert.deepEqual([third.id, third.count, third.severity, third.message], [first.id, 3, 'critical', 'm3']);
  assert.deepEqual([third.firstAt, Date.parse(third.lastAt) - Date.parse(first.firstAt)], [first.firstAt, 2000]);
  await alarms.raise({ key: 'NOVOLUME:lib:a.b.c', severity: 'info', code: 'NOVOLUME', message: 'n' });
  assert.deepEqual((await alarms.list({ severity: 'critical' })).map((a) => a.key), [key]);
  assert.deepEqual((await alarms.list({ severity: 'warning' })).map((a) => a.key), [key]);
  assert.equal((await alarms.list({ severity: 'info' })).length, 2);
});
