/**
 * The scheduler core against Enstore's acceptance scenarios
 * (reference/enstore.md "Acceptance scenarios" 3, 4, 15–20) plus suspect pairs,
 * mount criteria and the FIFO baseline. Scenario 21 (duplicate unique_id) is
 * the service's job.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fifoPolicy } from '../../library-manager/fifo.ts';
import { intakeVerdict } from '../../library-manager/library-state.ts';
import { currentPriority } from '../../library-manager/priority.ts';
import { decide } from '../../library-manager/scheduler.ts';
import {
  DEFAULT_SCHEDULER_CONFIG,
  ENSTORE_SCHEDULER_CONFIG,
  type Decision,
  type LibraryState,
  type MountedVolume,
  type MoverView,
  type QueuedRequest,
  type ReadRequest,
  type SchedulerConfig,
  type SchedulerInput,
  type WriteRequest,
} from '../../library-manager/types.ts';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const GB = 1e9;
const FAMILY = 'exp.raw.cpio_odc';

function rd(id: string, volumeLabel: string, fileNo: number, o: Partial<ReadRequest> = {}): ReadRequest {
  return { id, uniqueId: `u${id}`, kind: 'read', state: 'queued', priority: 1, admin: false, queuedAt: T0, size: GB, storageGroup: 'exp', volumeLabel, fileNo, ...o };
}

function wr(id: string, o: Partial<WriteRequest> = {}): WriteRequest {
  return { id, uniqueId: `u${id}`, kind: 'write', state: 'queued', priority: 1, admin: false, queuedAt: T0, size: GB, storageGroup: 'exp', fileFamily: 'raw', wrapper: 'cpio_odc', width: 2, ...o };
}

function vol(label: string, o: Partial<MountedVolume> = {}): MountedVolume {
  return { label, family: FAMILY, storageGroup: 'exp', full: false, writable: true, location: 0, ...o };
}

const idle = (name: string): MoverView => ({ name, state: 'idle' });
const bound = (name: string, volume: MountedVolume, o: Partial<MoverView> = {}): MoverView => ({ name, state: 'have_bound', volume, boundSince: T0, lastKind: 'read', ...o });
const busy = (name: string, volume: MountedVolume): MoverView => ({ name, state: 'active', volume });

function input(o: { requests?: QueuedRequest[]; movers?: MoverView[]; now?: number; state?: LibraryState; suspects?: SchedulerInput['suspects']; config?: Partial<SchedulerConfig> }): SchedulerInput {
  return {
    now: o.now ?? T0,
    libraryState: o.state ?? 'unlocked',
    requests: o.requests ?? [],
    movers: o.movers ?? [idle('m1')],
    suspects: o.suspects ?? [],
    config: { ...DEFAULT_SCHEDULER_CONFIG, ...o.config },
  };
}

/** What a test cares about in a decision. */
function brief(d: Decision): string {
  switch (d.kind) {
    case 'read':
      return `read ${d.requestId}`;
    case 'write':
      return d.volumeLabel === undefined ? `write ${d.requestId} veto=[${[...d.veto].sort().join(',')}]` : `write ${d.requestId} on ${d.volumeLabel}`;
    case 'dismount':
      return 'dismount';
    case 'wait':
      return d.untilMs === undefined ? 'wait' : `wait +${(d.untilMs - T0) / MIN}min`;
  }
}

interface Case {
  readonly name: string;
  readonly input: SchedulerInput;
  readonly mover?: string;
  readonly expect: string;
  readonly skipped?: readonly string[];
}

function run(title: string, cases: readonly Case[]): void {
  for (const c of cases) {
    test(`${title}: ${c.name}`, () => {
      const d = decide(c.input, c.mover ?? 'm1');
      assert.equal(brief(d), c.expect, d.reason);
      if (c.skipped !== undefined) assert.deepEqual(d.skipped.map((s) => `${s.key}:${s.code}`), c.skipped);
    });
  }
}

test('scenario 3: width 2, 6 writes, 6 idle movers: never more than 2 family volumes in work', () => {
  let requests: QueuedRequest[] = ['1', '2', '3', '4', '5', '6'].map((id) => wr(id));
  let movers: MoverView[] = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'].map(idle);
  const given: string[] = [];
  for (const m of movers.map((x) => x.name)) {
    const d = decide(input({ requests, movers }), m);
    if (d.kind === 'wait') {
      assert.deepEqual(d.skipped, [{ key: FAMILY, code: 'VOLS_IN_WORK' }]);
      continue;
    }
    assert.equal(d.kind, 'write');
    given.push(m);
    // The service assigns the request; the mover reports its volume later.
    requests = requests.map((r) => (r.id === d.requestId ? { ...r, state: 'assigned', mover: m } : r));
    movers = movers.map((x) => (x.name === m ? { name: m, state: 'setup' } : x));
  }
  assert.deepEqual(given, ['m1', 'm2']);
  // Once the volumes are known they hold the width the assignments held.
  movers = movers.map((x, i) => (i < 2 ? busy(x.name, vol(`V${i}`)) : x));
  const d = decide(input({ requests, movers }), 'm3');
  assert.equal(brief(d), 'wait');
  assert.deepEqual(d.skipped, [{ key: FAMILY, code: 'VOLS_IN_WORK' }]);
});

run('scenario 4: reads and width', [
  {
    name: 'a read of a non-full family tape uses one unit of width',
    input: input({ requests: [wr('1', { width: 1 })], movers: [idle('m1'), busy('m2', vol('V1'))] }),
    expect: 'wait',
    skipped: [`${FAMILY}:VOLS_IN_WORK`],
  },
  {
    name: 'a read of a full family tape uses none (and the tape is vetoed)',
    input: input({ requests: [wr('1', { width: 1 })], movers: [idle('m1'), busy('m2', vol('V1', { full: true }))] }),
    expect: 'write 1 veto=[V1]',
  },
  {
    name: 'a read-only family tape uses none either',
    input: input({ requests: [wr('1', { width: 1 })], movers: [idle('m1'), busy('m2', vol('V1', { writable: false }))] }),
    expect: 'write 1 veto=[V1]',
  },
  {
    name: 'width 2 with one family tape reading: a second volume may be written',
    input: input({ requests: [wr('1')], movers: [idle('m1'), busy('m2', vol('V1'))] }),
    expect: 'write 1 veto=[V1]',
  },
]);

test('scenario 15: reads at 7, 2, 5 run 2, 5, 7 on one mount; a read at 1 arriving during 7 runs after it (wrap)', () => {
  let requests: QueuedRequest[] = [rd('1', 'V1', 7), rd('2', 'V1', 2), rd('3', 'V1', 5)];
  let mover: MoverView = idle('m1');
  const served: number[] = [];
  let now = T0;
  for (let step = 0; step < 10; step++) {
    if (served.includes(7) && !requests.some((r) => r.id === '4') && !served.includes(1)) {
      requests = [...requests, rd('4', 'V1', 1, { queuedAt: now })];
    }
    const d = decide(input({ requests, movers: [mover], now }), 'm1');
    if (d.kind !== 'read') {
      assert.equal(brief(d), `wait +${(now - T0) / MIN + 1}min`, 'then the tape waits out the dismount delay');
      break;
    }
    const r = requests.find((x) => x.id === d.requestId) as ReadRequest;
    served.push(r.fileNo);
    requests = requests.filter((x) => x.id !== r.id);
    now += MIN / 2;
    mover = bound('m1', vol('V1', { location: r.fileNo + 1 }), { boundSince: now });
  }
  assert.deepEqual(served, [2, 5, 7, 1]);
});

run('scenario 16: bound tape reuse and the dismount delay', [
  {
    name: 'a same-family write after a write goes to the still-mounted tape',
    input: input({ requests: [wr('1')], movers: [bound('m1', vol('V1'), { lastKind: 'write' }), idle('m2')] }),
    expect: 'write 1 on V1',
  },
  {
    name: '… and an idle mover leaves it for that tape',
    input: input({ requests: [wr('1', { width: 3 })], movers: [bound('m2', vol('V1'), { lastKind: 'write' }), idle('m1')] }),
    expect: 'wait',
    skipped: [`${FAMILY}:BOUND_ELSEWHERE`],
  },
  {
    name: 'after a write, writes go before reads of the tape',
    input: input({ requests: [rd('1', 'V1', 3), wr('2', { queuedAt: T0 + 1 })], movers: [bound('m1', vol('V1'), { lastKind: 'write' })] }),
    expect: 'write 2 on V1',
  },
  {
    name: 'after a read, reads of the tape go before writes',
    input: input({ requests: [wr('1'), rd('2', 'V1', 3, { queuedAt: T0 + 1 })], movers: [bound('m1', vol('V1'))] }),
    expect: 'read 2',
  },
  {
    name: 'a write does not go onto a full bound tape',
    input: input({ requests: [wr('1')], movers: [bound('m1', vol('V1', { full: true }), { lastKind: 'write' })], config: ENSTORE_SCHEDULER_CONFIG }),
    expect: 'wait +1min',
  },
  {
    name: 'a write that does not fit (size × 1.05) does not go onto the bound tape',
    input: input({ requests: [wr('1', { size: 100 * GB })], movers: [bound('m1', vol('V1', { remainingBytes: 104 * GB }), { lastKind: 'write' })], config: ENSTORE_SCHEDULER_CONFIG }),
    expect: 'wait +1min',
  },
  {
    name: 'an idle bound tape waits for the dismount delay',
    input: input({ movers: [bound('m1', vol('V1'))], now: T0 + 30_000 }),
    expect: 'wait +1min',
  },
  {
    name: '… and is dismounted when it expires',
    input: input({ movers: [bound('m1', vol('V1'))], now: T0 + MIN }),
    expect: 'dismount',
  },
  {
    name: 'a delayed dismount of 5 min is honoured',
    input: input({ movers: [bound('m1', vol('V1'), { dismountDelayMs: 5 * MIN })] }),
    expect: 'wait +5min',
  },
  {
    name: 'a delayed dismount of 30 min is capped at max_dismount_delay (10 min)',
    input: input({ movers: [bound('m1', vol('V1'), { dismountDelayMs: 30 * MIN })] }),
    expect: 'wait +10min',
  },
  {
    name: 'with other work queued the tape goes at once (Tapestry)',
    input: input({ requests: [rd('1', 'V2', 4)], movers: [bound('m1', vol('V1'))] }),
    expect: 'dismount',
  },
  {
    name: 'with other work queued Enstore still waits the delay',
    input: input({ requests: [rd('1', 'V2', 4)], movers: [bound('m1', vol('V1'))], config: ENSTORE_SCHEDULER_CONFIG }),
    expect: 'wait +1min',
  },
  {
    name: 'work another mover has (its volume is busy there) does not make the tape go',
    input: input({ requests: [rd('1', 'V2', 4)], movers: [bound('m1', vol('V1')), busy('m2', vol('V2'))] }),
    expect: 'wait +1min',
  },
]);

run('scenario 17: the admin queue', [
  {
    name: 'an admin request goes before every regular one, whatever their priority',
    input: input({ requests: [rd('1', 'V1', 1, { priority: 1000 }), rd('2', 'V2', 1, { admin: true, priority: 0, queuedAt: T0 + 5 })] }),
    expect: 'read 2',
  },
  {
    name: 'on a bound tape, admin reads go before regular ones at the head',
    input: input({ requests: [rd('1', 'V1', 5), rd('2', 'V1', 2, { admin: true })], movers: [bound('m1', vol('V1', { location: 4 }))] }),
    expect: 'read 2',
  },
  {
    name: 'an admin request for another tape preempts a bound tape when no mover is idle',
    input: input({ requests: [rd('1', 'V1', 5), rd('2', 'V2', 2, { admin: true })], movers: [bound('m1', vol('V1')), busy('m2', vol('V3'))] }),
    expect: 'dismount',
  },
  {
    name: '… but not when a mover is idle: that one takes it',
    input: input({ requests: [rd('1', 'V1', 5), rd('2', 'V2', 2, { admin: true })], movers: [bound('m1', vol('V1')), idle('m2')] }),
    expect: 'read 1',
  },
  {
    name: 'a running transfer is never interrupted',
    input: input({ requests: [rd('2', 'V2', 2, { admin: true })], movers: [busy('m1', vol('V1'))] }),
    expect: 'wait',
  },
]);

test('scenario 19: current priority rises by 1 every 30 min waited', () => {
  const cases: [number, number][] = [[0, 1], [29 * MIN, 1], [30 * MIN, 2], [59 * MIN, 2], [95 * MIN, 4]];
  for (const [waited, pri] of cases) assert.equal(currentPriority({ priority: 1, queuedAt: T0 }, T0 + waited, 30 * MIN), pri, `after ${waited / MIN} min`);
});

run('scenario 19: aging reorders the queue', [
  {
    name: 'a priority-1 read waiting 61 min overtakes a fresh priority-2 read',
    input: input({ now: T0 + 61 * MIN, requests: [rd('1', 'V1', 1, { priority: 2, queuedAt: T0 + 61 * MIN }), rd('2', 'V2', 1, { queuedAt: T0 })] }),
    expect: 'read 2',
  },
  {
    name: 'waiting 29 min it does not',
    input: input({ now: T0 + 29 * MIN, requests: [rd('1', 'V1', 1, { priority: 2, queuedAt: T0 + 29 * MIN }), rd('2', 'V2', 1, { queuedAt: T0 })] }),
    expect: 'read 1',
  },
]);

const both = [rd('1', 'V1', 1), wr('2', { queuedAt: T0 + 1 })];
const stateCases: [LibraryState, string][] = [
  ['unlocked', 'read 1'],
  ['ignore', 'read 1'],
  ['locked', 'wait'], // draining: intake refuses new work and nothing queued is dispatched
  ['nowrite', 'read 1'],
  ['noread', 'write 2 veto=[]'],
  ['pause', 'wait'],
  ['broken', 'wait'],
];
run(
  'scenario 20: library states',
  stateCases.map(([state, expect]) => ({ name: `${state} → ${expect}`, input: input({ requests: both, state, config: ENSTORE_SCHEDULER_CONFIG }), expect })),
);
test('scenario 20: intake by library state (the service applies it)', () => {
  const table: [LibraryState, string, string][] = [
    ['unlocked', 'accept', 'accept'],
    ['locked', 'reject', 'reject'],
    ['ignore', 'drop', 'drop'],
    ['pause', 'accept', 'accept'],
    ['noread', 'reject', 'accept'],
    ['nowrite', 'accept', 'reject'],
    ['broken', 'reject', 'reject'],
  ];
  for (const [state, read, write] of table) {
    assert.deepEqual([intakeVerdict(state, 'read'), intakeVerdict(state, 'write')], [read, write], state);
  }
});
run('scenario 20: library states on a bound tape', [
  { name: 'pause holds reads of the mounted tape', input: input({ requests: [rd('1', 'V1', 3)], movers: [bound('m1', vol('V1'))], state: 'pause' }), expect: 'wait +1min' },
  { name: 'locked (drain) holds them too: the tape is dismounted after the delay', input: input({ requests: [rd('1', 'V1', 3)], movers: [bound('m1', vol('V1'))], state: 'locked' }), expect: 'wait +1min' },
  { name: 'noread holds them too', input: input({ requests: [rd('1', 'V1', 3)], movers: [bound('m1', vol('V1'))], state: 'noread' }), expect: 'wait +1min' },
  { name: 'nowrite holds writes onto it', input: input({ requests: [wr('1')], movers: [bound('m1', vol('V1'), { lastKind: 'write' })], state: 'nowrite' }), expect: 'wait +1min' },
]);

run('suspect (volume, mover) pairs', [
  {
    name: 'a read of a suspect volume is never given to that mover',
    input: input({ requests: [rd('1', 'V1', 1), rd('2', 'V2', 1, { queuedAt: T0 + 1 })], suspects: [{ volume: 'V1', mover: 'm1' }], config: ENSTORE_SCHEDULER_CONFIG }),
    expect: 'read 2',
    skipped: ['V1:SUSPECT'],
  },
  {
    name: '… but another mover gets it',
    input: input({ requests: [rd('1', 'V1', 1)], movers: [idle('m1'), idle('m2')], suspects: [{ volume: 'V1', mover: 'm1' }] }),
    mover: 'm2',
    expect: 'read 1',
  },
  {
    name: 'a write from that mover vetoes its suspect volumes',
    input: input({ requests: [wr('1')], movers: [idle('m1'), busy('m2', vol('V2'))], suspects: [{ volume: 'V9', mover: 'm1' }] }),
    expect: 'write 1 veto=[V2,V9]',
  },
  {
    name: 'a bound mover on a suspect volume dismounts it',
    input: input({ requests: [rd('1', 'V1', 3)], movers: [bound('m1', vol('V1'))], suspects: [{ volume: 'V1', mover: 'm1' }] }),
    expect: 'dismount',
  },
]);

run('volumes busy at other movers', [
  {
    name: 'a read of a volume in another drive is skipped (VOL_BUSY)',
    input: input({ requests: [rd('1', 'V1', 1), rd('2', 'V2', 1, { queuedAt: T0 + 1 })], movers: [idle('m1'), busy('m2', vol('V1'))], config: ENSTORE_SCHEDULER_CONFIG }),
    expect: 'read 2',
    skipped: ['V1:VOL_BUSY'],
  },
  {
    name: 'so is one assigned to a mover that has not reported the volume yet',
    input: input({ requests: [rd('1', 'V1', 1), rd('9', 'V1', 4, { state: 'assigned', mover: 'm2' })], movers: [idle('m1'), { name: 'm2', state: 'setup' }] }),
    expect: 'wait',
    skipped: ['V1:VOL_BUSY'],
  },
]);

const sgLimits = { storageGroupLimits: { A: 1 } };
run('scenario 18: fair share between storage groups', [
  {
    name: 'sg A (limit 1) holds a drive; A and B are queued: the idle mover takes B',
    input: input({
      requests: [rd('1', 'A2', 1, { storageGroup: 'A', priority: 5 }), rd('2', 'B1', 1, { storageGroup: 'B' })],
      movers: [idle('m1'), busy('m2', vol('A1', { storageGroup: 'A', family: 'A.raw.cpio_odc' }))],
      config: sgLimits,
    }),
    expect: 'read 2',
    skipped: ['A2:FAIR_SHARE'],
  },
  {
    name: 'with only A queued, A gets the drive (fair share never idles a drive)',
    input: input({
      requests: [rd('1', 'A2', 1, { storageGroup: 'A' })],
      movers: [idle('m1'), busy('m2', vol('A1', { storageGroup: 'A', family: 'A.raw.cpio_odc' }))],
      config: sgLimits,
    }),
    expect: 'read 1',
  },
]);

run('CTA mount criteria (optional)', [
  {
    name: 'too few bytes and files and too young: wait until the oldest is old enough',
    input: input({ requests: [rd('1', 'V1', 1)], config: { mountCriteria: { minBytes: 500 * GB, minFiles: 10, maxAgeMs: 10 * MIN } } }),
    expect: 'wait +10min',
    skipped: ['V1:MOUNT_CRITERIA'],
  },
  {
    name: 'old enough: mount',
    input: input({ now: T0 + 10 * MIN, requests: [rd('1', 'V1', 1)], config: { mountCriteria: { minBytes: 500 * GB, minFiles: 10, maxAgeMs: 10 * MIN } } }),
    expect: 'read 1',
  },
  {
    name: 'enough bytes: mount at once',
    input: input({ requests: [rd('1', 'V1', 1, { size: 600 * GB })], config: { mountCriteria: { minBytes: 500 * GB, minFiles: 10, maxAgeMs: 10 * MIN } } }),
    expect: 'read 1',
  },
  {
    name: 'admin requests bypass the criteria',
    input: input({ requests: [rd('1', 'V1', 1, { admin: true })], config: { mountCriteria: { minBytes: 500 * GB, minFiles: 10, maxAgeMs: 10 * MIN } } }),
    expect: 'read 1',
  },
]);

run('choosing among keys of equal priority', [
  {
    name: 'Tapestry: the volume with the most queued bytes',
    input: input({ requests: [rd('1', 'V1', 1), rd('2', 'V2', 1), rd('3', 'V2', 9)] }),
    expect: 'read 2',
  },
  {
    name: 'Enstore: the oldest request',
    input: input({ requests: [rd('1', 'V1', 1), rd('2', 'V2', 1, { queuedAt: T0 + 1 }), rd('3', 'V2', 9, { queuedAt: T0 + 1 })], config: ENSTORE_SCHEDULER_CONFIG }),
    expect: 'read 1',
  },
  {
    name: 'a newly mounted volume is read from its lowest queued file',
    input: input({ requests: [rd('1', 'V1', 7), rd('2', 'V1', 2, { queuedAt: T0 + 1 })], config: ENSTORE_SCHEDULER_CONFIG }),
    expect: 'read 2',
  },
]);

test('FIFO baseline: arrival order, the tape kept only while the oldest request is for it', () => {
  const requests = [rd('1', 'V2', 9), rd('2', 'V1', 1, { queuedAt: T0 + 1, priority: 9 }), rd('3', 'V1', 2, { queuedAt: T0 + 2 })];
  assert.equal(brief(fifoPolicy(input({ requests }), 'm1')), 'read 1', 'priority is ignored');
  assert.equal(brief(fifoPolicy(input({ requests: requests.slice(1), movers: [bound('m1', vol('V2'))] }), 'm1')), 'dismount');
  assert.equal(brief(fifoPolicy(input({ requests: requests.slice(1), movers: [bound('m1', vol('V1'))] }), 'm1')), 'read 2');
  assert.equal(brief(fifoPolicy(input({ requests: [wr('1', { width: 1 })], movers: [idle('m1'), busy('m2', vol('V1'))] }), 'm1')), 'wait', 'width still holds');
});
