import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectWriteVolume, type Candidate } from '../../volume-clerk/volume-selection.ts';

const CAP = 1000;
/** label, family sg.ff.wrapper, declared (s), remaining (default: blank, full capacity). */
function c(label: string, vf: string, declared: number, remaining = CAP): Candidate {
  const [storageGroup, fileFamily, wrapper] = vf.split('.') as [string, string, string];
  return { label, storageGroup, fileFamily, wrapper, declaredAt: declared * 1000, remainingBytes: remaining, capacityBytes: CAP };
}
const req = { storageGroup: 'sg', fileFamily: 'raw', wrapper: 'cpio_odc', size: 100 };

test('pool order: exact family → family pool → storage-group blanks → common blanks; oldest first, then label', () => {
  const all = [
    c('COMMON1', 'none.none.none', 1),
    c('SGPOOL1', 'sg.none.none', 5),
    c('FAMPOOL', 'sg.raw.none', 9),
    c('EXACT2', 'sg.raw.cpio_odc', 8, 500),
    c('EXACT1', 'sg.raw.cpio_odc', 7, 500),
    c('OTHERFF', 'sg.other.cpio_odc', 0, 500),
    c('OTHERSG', 'xx.none.none', 0),
  ];
  const cases: [string[], string | null, string | null][] = [
    [[], 'EXACT1', 'exact'],
    [['EXACT1'], 'EXACT2', 'exact'],
    [['EXACT1', 'EXACT2'], 'FAMPOOL', 'family'],
    [['EXACT1', 'EXACT2', 'FAMPOOL'], 'SGPOOL1', 'storage_group'],
    [['EXACT1', 'EXACT2', 'FAMPOOL', 'SGPOOL1'], 'COMMON1', 'common'],
    [['EXACT1', 'EXACT2', 'FAMPOOL', 'SGPOOL1', 'COMMON1'], null, null],
  ];
  for (const [veto, label, pool] of cases) {
    const sel = selectWriteVolume(all, req, { veto });
    assert.equal(sel.chosen?.label ?? null, label, `veto ${veto.join(',')}`);
    assert.equal(sel.chosen?.pool ?? null, pool);
    assert.deepEqual(sel.tooSmall, []);
  }
});

test('ties on declared time go by label; a blank volume gets the family assigned, an exact one not', () => {
  const sel = selectWriteVolume([c('B', 'none.none.none', 1), c('A', 'none.none.none', 1), c('C', 'none.none.none', 0.5)], req);
  assert.deepEqual(sel.chosen, { label: 'C', pool: 'common', assign: { storageGroup: 'sg', fileFamily: 'raw', wrapper: 'cpio_odc' } });
  assert.equal(selectWriteVolume([c('B', 'none.none.none', 1), c('A', 'none.none.none', 1)], req).chosen?.label, 'A');
  assert.equal(selectWriteVolume([c('E', 'sg.raw.cpio_odc', 1, 500)], req).chosen?.assign, null);
});

test('vetoed volumes are never returned', () => {
  const vols = [c('V1', 'sg.raw.cpio_odc', 1, 500), c('V2', 'none.none.none', 2)];
  assert.equal(selectWriteVolume(vols, req, { veto: ['V1', 'V2'] }).chosen, null);
  assert.equal(selectWriteVolume(vols, req, { veto: new Set(['V1']) }).chosen?.label, 'V2');
});

test('written volumes without room for size + 5 % are flipped to full; untouched ones are only skipped', () => {
  const vols = [c('SMALL1', 'sg.raw.cpio_odc', 1, 104), c('SMALL2', 'sg.raw.none', 2, 50), c('OK', 'sg.raw.cpio_odc', 3, 105), c('TINYBLANK', 'none.none.none', 0, CAP)];
  const sel = selectWriteVolume(vols, req);
  assert.equal(sel.chosen?.label, 'OK');
  assert.deepEqual(sel.tooSmall, ['SMALL1']);
  const none = selectWriteVolume(vols, { ...req, size: 2000 });
  assert.equal(none.chosen, null);
  assert.deepEqual(none.tooSmall, ['SMALL1', 'OK', 'SMALL2']);
});

test('a storage group over its quota may not take from the common pool', () => {
  const vols = [c('COMMON', 'none.none.none', 1)];
  assert.deepEqual(selectWriteVolume(vols, req, { commonPoolAllowed: false }), { chosen: null, tooSmall: [], quotaBlocked: true });
  assert.equal(selectWriteVolume([...vols, c('SG', 'sg.none.none', 2)], req, { commonPoolAllowed: false }).chosen?.label, 'SG');
});
