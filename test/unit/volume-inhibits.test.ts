import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkInhibitValue, fits, poolFor, readAvailability, writeAvailability, type VolumeFacts } from '../../volume-clerk/inhibits.ts';
import { isTapestryError } from '../../src/errors/index.ts';

const TB = 1e12;
function vol(over: Partial<Omit<VolumeFacts, 'systemInhibit' | 'userInhibit'>> & { sys?: [string, string]; user?: [string, string] } = {}): VolumeFacts {
  const { sys = ['none', 'none'], user = ['none', 'none'], ...rest } = over;
  return {
    label: 'TS0001L9', storageGroup: 'sg', fileFamily: 'ff', wrapper: 'cpio_odc',
    systemInhibit: { access: sys[0] as VolumeFacts['systemInhibit']['access'], state: sys[1] as VolumeFacts['systemInhibit']['state'] },
    userInhibit: { access: user[0], state: user[1] },
    writeProtected: 'n', remainingBytes: 10 * TB, capacityBytes: 18 * TB, location: { kind: 'slot', ref: '1' }, shelfPolicy: 'fail',
    ...rest,
  };
}
const family = { storageGroup: 'sg', fileFamily: 'ff', wrapper: 'cpio_odc' };
const verdict = (a: ReturnType<typeof readAvailability>): string => (a.ok ? (a.needsOperator ? 'ok+operator' : 'ok') : `${a.code}:${a.reason}`);

test('reads: access inhibits refuse, every state inhibit is readable', () => {
  const cases: [Parameters<typeof vol>[0], string][] = [
    [{}, 'ok'],
    [{ sys: ['none', 'full'] }, 'ok'],
    [{ sys: ['none', 'readonly'] }, 'ok'],
    [{ sys: ['none', 'migrated'] }, 'ok'],
    [{ sys: ['none', 'duplicated'] }, 'ok'],
    [{ user: ['none', 'readonly'] }, 'ok'],
    [{ writeProtected: 'y' }, 'ok'],
    [{ sys: ['NOACCESS', 'none'] }, 'NOACCESS:NOACCESS'],
    [{ sys: ['NOTALLOWED', 'full'] }, 'NOTALLOWED:NOTALLOWED'],
    [{ user: ['NOACCESS', 'none'] }, 'NOACCESS:NOACCESS'],
    [{ sys: ['DELETED', 'none'], user: ['NOACCESS', 'none'] }, 'DELETED:DELETED'],
    [{ location: { kind: 'shelf', ref: null } }, 'SHELVED:shelf'],
    [{ location: { kind: 'shelf', ref: null }, shelfPolicy: 'operator' }, 'ok+operator'],
  ];
  for (const [over, expected] of cases) assert.equal(verdict(readAvailability(vol(over))), expected, JSON.stringify(over));
  const noaccess = readAvailability(vol({ sys: ['NOACCESS', 'none'] }));
  assert.equal(noaccess.ok ? '' : noaccess.message, 'Volume TS0001L9 is marked NOACCESS.');
});

test('writes: any inhibit, write protection, the shelf, another family or too little room refuse', () => {
  const cases: [Parameters<typeof vol>[0], { size?: number; family?: typeof family }, string][] = [
    [{}, { size: TB, family }, 'ok'],
    [{ sys: ['none', 'full'] }, {}, 'NOSPACE:full'],
    [{ user: ['none', 'full'] }, {}, 'NOSPACE:full'],
    [{ sys: ['none', 'readonly'] }, {}, 'READONLY:readonly'],
    [{ user: ['none', 'readonly'] }, {}, 'READONLY:readonly'],
    [{ sys: ['none', 'migrating'] }, {}, 'READONLY:migrating'],
    [{ user: ['none', 'migrated'] }, {}, 'READONLY:migrated'],
    [{ sys: ['NOTALLOWED', 'none'] }, {}, 'NOTALLOWED:NOTALLOWED'],
    [{ user: ['NOACCESS', 'none'] }, {}, 'NOACCESS:NOACCESS'],
    [{ sys: ['DELETED', 'none'] }, {}, 'DELETED:DELETED'],
    [{ writeProtected: 'y' }, {}, 'WRITE_PROTECTED:write_protected'],
    [{ location: { kind: 'shelf', ref: null }, shelfPolicy: 'operator' }, {}, 'SHELVED:shelf'],
    [{}, { family: { ...family, fileFamily: 'other' } }, 'CONFLICT:family'],
    [{ storageGroup: 'none', fileFamily: 'none', wrapper: 'none' }, { family }, 'ok'],
    [{ storageGroup: 'sg', fileFamily: 'none', wrapper: 'none' }, { family }, 'ok'],
    [{ storageGroup: 'other', fileFamily: 'none', wrapper: 'none' }, { family }, 'CONFLICT:family'],
    [{ remainingBytes: 1050 }, { size: 1000 }, 'ok'],
    [{ remainingBytes: 1049 }, { size: 1000 }, 'NOSPACE:space'],
  ];
  for (const [over, req, expected] of cases) assert.equal(verdict(writeAvailability(vol(over), req)), expected, JSON.stringify([over, req]));
  // Only a written volume is flipped to full for lack of room.
  const written = writeAvailability(vol({ remainingBytes: 100, capacityBytes: 1000 }), { size: 200 });
  const blank = writeAvailability(vol({ remainingBytes: 100, capacityBytes: 100 }), { size: 200 });
  assert.equal(!written.ok && written.flipToFull, true);
  assert.equal(!blank.ok && blank.flipToFull, false);
});

test('the 5 % rule and the pools', () => {
  assert.equal(fits(100, 105), true);
  assert.equal(fits(100, 104), false);
  assert.equal(fits(0, 0), true);
  assert.equal(fits(18 * TB, 18.9 * TB), true);
  const f = { storageGroup: 'sg', fileFamily: 'ff', wrapper: 'cpio_odc' };
  const pool = (sg: string, ff: string, w: string) => poolFor({ storageGroup: sg, fileFamily: ff, wrapper: w }, f);
  assert.equal(pool('sg', 'ff', 'cpio_odc'), 'exact');
  assert.equal(pool('sg', 'ff', 'none'), 'family');
  assert.equal(pool('sg', 'none', 'none'), 'storage_group');
  assert.equal(pool('none', 'none', 'none'), 'common');
  assert.equal(pool('sg', 'ff', 'null'), null);
  assert.equal(pool('sg', 'other', 'cpio_odc'), null);
  assert.equal(pool('other', 'none', 'none'), null);
});

test('inhibit values are checked against what each of the four may hold', () => {
  assert.equal(checkInhibitValue('system', 'access', 'DELETED'), 'DELETED');
  assert.equal(checkInhibitValue('user', 'state', 'migrated'), 'migrated');
  for (const [kind, field, value] of [['user', 'access', 'DELETED'], ['user', 'state', 'cloning'], ['system', 'state', 'NOACCESS'], ['system', 'access', 'noaccess']] as const) {
    assert.throws(() => checkInhibitValue(kind, field, value), (err) => isTapestryError(err, 'USERERROR'), `${kind} ${field} ${value}`);
  }
});
