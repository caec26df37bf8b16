/**
 * Faults at realistic rates, armed through the simulator's own fault API at
 * random virtual times (Poisson processes on the soak clock), never by
 * reaching into the code under test:
 * - drive error: the next write on a random loaded drive fails DRIVE_ERROR;
 * - media error: the same with MEDIA_ERROR;
 * - robot error: after a mount, with probability 1/robotErrorPerMounts, the
 *   robot's next command answers RETRY (3) or BUSY (16) — retryable classes;
 * - mover crash: a random drive's Mover is killed and a new one started.
 * Byte rates become time rates through the acquisition rate.
 */
import type { SoakOptions } from './options.ts';
import type { SoakSystem } from './system.ts';

export type FaultKind = 'drive_error' | 'media_error' | 'robot_error' | 'mover_crash';

export class FaultInjector {
  readonly injected: Record<FaultKind, number> = { drive_error: 0, media_error: 0, robot_error: 0, mover_crash: 0 };
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly sys: SoakSystem,
    private readonly o: SoakOptions,
    private readonly random: () => number,
  ) {}

  start(): void {
    if (this.o.faultScale <= 0) return;
    const perByteMs = 1000 / this.o.rateBytesPerSec;
    const scale = this.o.faultScale;
    this.loops.push(this.every((this.o.faults.driveErrorPerBytes * perByteMs) / scale, () => this.driveFault('drive_error', 'DRIVE_ERROR')));
    this.loops.push(this.every((this.o.faults.mediaErrorPerBytes * perByteMs) / scale, () => this.driveFault('media_error', 'MEDIA_ERROR')));
    this.loops.push(this.every(this.o.faults.moverCrashEveryMs / scale, () => this.crash()));
    const robot = [...this.sys.config.robots.keys()][0]!;
    this.sys.onMount = () => {
      if (this.stopped || this.random() >= scale / this.o.faults.robotErrorPerMounts) return;
      this.sys.simulator.robot(robot).failNext(this.random() < 0.5 ? 3 : 16);
      this.injected.robot_error++;
    };
  }

  /** Stop arming; crashes already under way finish. Disarms what never fired and returns how many. */
  async stop(): Promise<Record<'drive' | 'robot', number>> {
    this.stopped = true;
    this.sys.onMount = null;
    this.abort.abort();
    await Promise.all(this.loops);
    let drive = 0;
    for (const d of this.sys.simulator.drives.values()) {
      drive += d.faults.describe().length;
      d.faults.clear();
    }
    let robot = 0;
    for (const name of this.sys.config.robots.keys()) {
      const r = this.sys.simulator.robot(name);
      robot += r.describeFaults().failNext.length;
      r.clearFaults();
    }
    return { drive, robot };
  }

  private async every(meanMs: number, act: () => Promise<void> | void): Promise<void> {
    if (!(meanMs > 0 && Number.isFinite(meanMs))) return;
    for (;;) {
      // Exponential gaps: a Poisson process with the given mean.
      const gap = -Math.log(1 - this.random()) * meanMs;
      try {
        await this.sys.clock.sleep(gap, this.abort.signal);
      } catch {
        return;
      }
      if (this.stopped) return;
      await act();
    }
  }

  private pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.random() * items.length)];
  }

  private driveFault(kind: 'drive_error' | 'media_error', code: 'DRIVE_ERROR' | 'MEDIA_ERROR'): void {
    const drives = [...this.sys.simulator.drives.values()];
    // Both strike a drive at work, one with a cartridge: a fault armed on an
    // idle drive waits for work that, with width 2 on 4 drives, may never
    // come (the first full run this way left 4 of 5 drive errors unhit).
    const loaded = drives.filter((d) => d.label !== null);
    const drive = this.pick(loaded.length > 0 ? loaded : drives);
    if (!drive) return;
    drive.faults.failNextWrite(code);
    this.injected[kind]++;
  }

  private async crash(): Promise<void> {
    const drive = this.pick(this.sys.driveNames);
    if (!drive) return;
    this.injected.mover_crash++;
    await this.sys.crashMover(drive);
  }
}
