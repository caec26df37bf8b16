/**
 * A discrete-event simulation of one library on a VirtualClock: drives that
 * take their times from hardware-sim/drive-timing.ts, one robot accessor
 * shared by all drives, and a mover per drive that asks a scheduling `Policy`
 * what to do whenever it is idle or has a bound tape, exactly as the library
 * manager service will. Only reads are simulated.
 */
import { locateTime, loadTime, transferTime, unloadTime, type TimingModel } from '../../hardware-sim/drive-timing.ts';
import type { MoverView, Policy, QueuedRequest, ReadRequest, SchedulerConfig } from '../../library-manager/types.ts';
import { VirtualClock } from '../../src/time/clock.ts';
import type { Workload } from './scheduling-workload.ts';

export interface SimOptions {
  readonly drives: number;
  readonly media: TimingModel;
  readonly robotMoveMs: number;
  readonly policy: Policy;
  readonly config: SchedulerConfig;
}

export interface SimResult {
  readonly mounts: number;
  /** From the start until every read is done and every tape is back in its slot. */
  readonly makespanMs: number;
  /** Completion minus arrival, per read. */
  readonly latenciesMs: Float64Array;
  /** Decisions asked of the policy. */
  readonly decisions: number;
}

interface SimMover {
  readonly name: string;
  state: MoverView['state'];
  label?: string;
  /** Next file under the head, and the head's byte position. */
  location: number;
  headBytes: number;
  boundSince?: number;
  wake?: () => void;
}

/** One accessor: moves are served one at a time, in request order. */
class Robot {
  private free: Promise<void> = Promise.resolve();
  constructor(private readonly clock: VirtualClock, private readonly moveMs: number) {}
  move(): Promise<void> {
    const done = this.free.then(() => this.clock.sleep(this.moveMs));
    this.free = done;
    return done;
  }
}

export async function simulate(w: Workload, o: SimOptions): Promise<SimResult> {
  const clock = new VirtualClock({ start: 0 });
  const robot = new Robot(clock, o.robotMoveMs);
  const open: QueuedRequest[] = [];
  const index = new Map<string, number>();
  const latencies = new Float64Array(w.reads.length);
  let completed = 0;
  let arrived = 0;
  let mounts = 0;
  let decisions = 0;
  let lastEventAt = 0;
  const movers: SimMover[] = Array.from({ length: o.drives }, (_, i) => ({ name: `mover-${i + 1}`, state: 'idle', location: 0, headBytes: 0 }));

  const add = (r: QueuedRequest): void => {
    index.set(r.id, open.length);
    open.push(r);
  };
  const replace = (r: QueuedRequest): void => {
    open[index.get(r.id)!] = r;
  };
  const remove = (id: string): void => {
    const i = index.get(id)!;
    const last = open.pop()!;
    if (last.id !== id) {
      open[i] = last;
      index.set(last.id, i);
    }
    index.delete(id);
  };
  const wakeAll = (): void => {
    for (const m of movers) m.wake?.();
  };
  const finished = (): boolean => completed === w.reads.length && movers.every((m) => m.label === undefined);

  const view = (m: SimMover): MoverView => {
    const base = { name: m.name, state: m.state, boundSince: m.boundSince, lastKind: 'read' as const };
    if (m.label === undefined) return base;
    return { ...base, volume: { label: m.label, family: 'exp.raw.cpio_odc', storageGroup: 'exp', full: true, writable: false, location: m.location } };
  };

  const waitFor = async (m: SimMover, untilMs: number | undefined): Promise<void> => {
    const ac = new AbortController();
    m.wake = () => ac.abort();
    if (untilMs !== undefined) await clock.sleep(untilMs - clock.now(), ac.signal).catch(() => undefined);
    else await new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), { once: true }));
    m.wake = undefined;
  };

  const read = async (m: SimMover, request: ReadRequest): Promise<void> => {
    replace({ ...request, state: 'active', mover: m.name });
    const volume = w.volumes.get(request.volumeLabel)!;
    if (m.label !== request.volumeLabel) {
      if (m.label !== undefined) throw new Error(`${m.name}: policy gave a read of ${request.volumeLabel} while ${m.label} is mounted`);
      m.label = request.volumeLabel;
      m.state = 'mount_wait';
      m.location = 0;
      m.headBytes = 0;
      mounts++;
      await robot.move();
      await clock.sleep(loadTime(o.media));
    }
    m.state = 'active';
    const start = volume.starts[request.fileNo]!;
    await clock.sleep(locateTime(o.media, m.headBytes, start) + transferTime(o.media, request.size));
    m.headBytes = start + request.size;
    m.location = request.fileNo + 1;
    remove(request.id);
    latencies[completed++] = clock.now() - request.queuedAt;
    m.state = 'have_bound';
    m.boundSince = clock.now();
  };

  const dismount = async (m: SimMover): Promise<void> => {
    m.state = 'dismount_wait';
    await clock.sleep(unloadTime(o.media, m.headBytes));
    await robot.move();
    m.label = undefined;
    m.state = 'idle';
    m.boundSince = undefined;
    lastEventAt = clock.now();
    wakeAll();
  };

  const run = async (m: SimMover): Promise<void> => {
    while (!finished()) {
      decisions++;
      const input = { now: clock.now(), libraryState: 'unlocked' as const, requests: open, movers: movers.map(view), suspects: [], config: o.config };
      const d = o.policy(input, m.name);
      if (d.kind === 'read') {
        const r = open[index.get(d.requestId)!];
        if (r?.kind !== 'read' || r.state !== 'queued') throw new Error(`${m.name}: policy gave request ${d.requestId}, which is not a queued read`);
        await read(m, r);
      } else if (d.kind === 'dismount') await dismount(m);
      else if (d.kind === 'wait') await waitFor(m, d.untilMs);
      else throw new Error('the benchmark simulates reads only');
    }
    wakeAll();
  };

  const arrivals = async (): Promise<void> => {
    for (const r of w.reads) {
      if (r.queuedAt > clock.now()) await clock.sleep(r.queuedAt - clock.now());
      add(r);
      arrived++;
      wakeAll();
    }
  };

  const loops = [arrivals(), ...movers.map(run)];
  // Let the first decisions reach their first sleep (the robot queue starts its sleeps in a microtask).
  await new Promise<void>((resolve) => setImmediate(resolve));
  while (await clock.runNext()) {
    // every pending operation waits on the clock, so jumping to the next timer loses nothing
  }
  if (!finished() || arrived !== w.reads.length) throw new Error(`simulation stalled: ${completed}/${w.reads.length} reads done at ${clock.now()} ms`);
  await Promise.all(loops);
  return { mounts, makespanMs: lastEventAt, latenciesMs: latencies, decisions };
}
