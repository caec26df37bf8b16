import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { silentLogger } from '../../src/logging/index.ts';
import { startSystem, type RunningSystem } from '../../tools/tapestry/start.ts';
import { makeTestInstallation, type TestInstallation } from '../helpers/system-config.ts';

let inst: TestInstallation;
let sys: RunningSystem;

before(async () => {
  inst = await makeTestInstallation();
  sys = await startSystem({ config: loadConfig(inst.configFile), log: silentLogger() });
});
after(async () => {
  await sys.stop();
  await inst.remove();
});

async function call(method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${sys.url}${path}`, {
    method,
    headers: body === undefined && raw === undefined ? {} : { 'content-type': 'application/json' },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

test('health, OpenAPI and library inventory', async () => {
  const health = await call('GET', '/api/v1/health');
  assert.equal(health.status, 200);
  assert.equal(health.body.database.ok, true);
  const docs = await call('GET', '/docs/json');
  assert.equal(docs.status, 200);
  assert.ok(docs.body.paths['/api/v1/libraries/{library}'], 'inventory route documented');
  assert.ok(docs.body.paths['/api/v1/libraries/{library}/mount'], 'mount route documented');
  const inv = await call('GET', '/api/v1/libraries/lto9');
  assert.equal(inv.status, 200);
  assert.equal(inv.body.slots.filter((s: { label: string | null }) => s.label).length, 20);
  assert.equal(inv.body.robotState, 'ready');
});

test('bad input gets a 4xx with a stable code, never a 5xx', async () => {
  const cases: [string, string, unknown, string | undefined, number, string][] = [
    ['GET', '/api/v1/libraries/nope', undefined, undefined, 404, 'NOT_FOUND'],
    ['GET', '/api/v1/no/such/route', undefined, undefined, 404, 'NOT_FOUND'],
    ['POST', '/api/v1/libraries/lto9/mount', { label: 'ts1', drive: 'drive-1' }, undefined, 400, 'USERERROR'],
    ['POST', '/api/v1/libraries/lto9/mount', { label: 'TS0001L9' }, undefined, 400, 'USERERROR'],
    ['POST', '/api/v1/libraries/lto9/mount', { label: 'TS0001L9', drive: 'drive-1', extra: 1 }, undefined, 400, 'USERERROR'],
    ['POST', '/api/v1/libraries/lto9/mount', undefined, '{"label": "TS00', 400, 'MALFORMED'],
    ['POST', '/api/v1/libraries/lto9/mount', { label: 'TS0001L9', drive: 'drive-9' }, undefined, 404, 'NOT_FOUND'],
    ['POST', '/api/v1/libraries/lto9/mount', { label: 'TS0077L9', drive: 'drive-1' }, undefined, 404, 'NO_SUCH_VOLUME'],
    ['POST', '/api/v1/libraries/lto9/dismount', { label: 'TS0001L9', drive: 'drive-1' }, undefined, 409, 'ELEMENT_EMPTY'],
    ['POST', '/api/v1/sim/robots/robot-1/faults', { kind: 'explode' }, undefined, 400, 'USERERROR'],
    ['POST', '/api/v1/sim/drives/drive-9/faults', { kind: 'down' }, undefined, 404, 'NOT_FOUND'],
  ];
  for (const [method, path, body, raw, status, code] of cases) {
    const r = await call(method, path, body, raw);
    assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body ?? raw)} → ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, code, `${method} ${path}`);
    assert.equal(typeof r.body.message, 'string');
  }
});

test('robot faults reach the operator as their catalogue codes; retryable ones are retried', async () => {
  // Two "retry later" errors, then success: the media changer retries (3 retries configured).
  assert.equal((await call('POST', '/api/v1/sim/robots/robot-1/faults', { kind: 'fail-next', code: 3, count: 2 })).status, 200);
  const mounted = await call('POST', '/api/v1/libraries/lto9/mount', { label: 'TS0002L9', drive: 'drive-2' });
  assert.equal(mounted.status, 200, JSON.stringify(mounted.body));
  assert.equal(mounted.body.fromSlot, 2);

  // A jam needs an operator: no retry, ROBOT_OPERATOR.
  await call('POST', '/api/v1/sim/robots/robot-1/faults', { kind: 'jam' });
  const jammed = await call('POST', '/api/v1/libraries/lto9/dismount', { label: 'TS0002L9', drive: 'drive-2' });
  assert.equal(jammed.status, 503);
  assert.equal(jammed.body.code, 'ROBOT_OPERATOR');
  assert.equal((await call('GET', '/api/v1/libraries/lto9')).body.robotState, 'jammed');
  await call('POST', '/api/v1/sim/robots/robot-1/faults', { kind: 'clear-jam' });
  const back = await call('POST', '/api/v1/libraries/lto9/dismount', { label: 'TS0002L9', drive: 'drive-2' });
  assert.equal(back.status, 200, JSON.stringify(back.body));
  assert.equal(back.body.toSlot, 2);

  // A drive that is down cannot take a cartridge.
  await call('POST', '/api/v1/sim/drives/drive-3/faults', { kind: 'down' });
  const down = await call('POST', '/api/v1/libraries/lto9/mount', { label: 'TS0003L9', drive: 'drive-3' });
  assert.equal(down.body.code, 'DRIVE_DOWN');
  const faults = await call('GET', '/api/v1/sim/faults');
  assert.equal(faults.body.drives['drive-3'].down, true);
  await call('POST', '/api/v1/sim/drives/drive-3/faults', { kind: 'up' });
  const inv = await call('GET', '/api/v1/libraries/lto9');
  assert.equal(inv.body.slots[2].label, 'TS0003L9', 'the cartridge stays in its slot when the drive refuses it');
});
