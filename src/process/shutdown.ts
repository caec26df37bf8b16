import type { Logger } from '../logging/index.ts';

/**
 * Ordered graceful shutdown. Components register a closer as they start; on
 * SIGINT/SIGTERM the closers run in reverse order (the API stops taking
 * requests before the movers stop, the movers before the robot, the database
 * last). A second signal forces an immediate exit.
 */
export class Shutdown {
  private readonly closers: { name: string; close: () => Promise<void> | void }[] = [];
  private running: Promise<void> | null = null;

  constructor(private readonly log: Logger, private readonly timeoutMs = 30_000) {}

  /** Register something to close; closers run last-registered first. */
  add(name: string, close: () => Promise<void> | void): void {
    this.closers.push({ name, close });
  }

  get started(): boolean {
    return this.running !== null;
  }

  /** Close everything once; later calls return the same promise. */
  run(reason: string): Promise<void> {
    this.running ??= this.closeAll(reason);
    return this.running;
  }

  private async closeAll(reason: string): Promise<void> {
    this.log.info({ event: 'shutdown.start', reason });
    for (const { name, close } of [...this.closers].reverse()) {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(close),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${name} did not close within ${this.timeoutMs} ms`)), this.timeoutMs);
          }),
        ]);
        this.log.debug({ event: 'shutdown.closed', component: name, ms: Date.now() - started });
      } catch (err) {
        this.log.error({ event: 'shutdown.close_failed', component: name, err });
      } finally {
        clearTimeout(timer);
      }
    }
    this.log.info({ event: 'shutdown.done' });
  }

  /** Install SIGINT/SIGTERM handlers that run the shutdown and exit. */
  installSignalHandlers(onDone: (code: number) => void = (code) => process.exit(code)): void {
    let firstAt = 0;
    const handler = (signal: NodeJS.Signals): void => {
      if (this.running) {
        // A terminal's Ctrl-C reaches every process of the group, and npm (or a
        // tsx parent) forwards it again: the same keypress arrives twice within
        // milliseconds. Only a signal well after the first forces the exit.
        if (Date.now() - firstAt < 2000) return;
        this.log.warn({ event: 'shutdown.forced', signal });
        onDone(130);
        return;
      }
      firstAt = Date.now();
      void this.run(signal).then(() => onDone(0));
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  }
}
