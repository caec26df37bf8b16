/**
 * MediaChanger over the robot serial protocol (docs/robot-protocol.md). The
 * only way it reaches the robot is serialport: the real binding for a device
 * or pty path, or any binding passed in (a mock in unit tests).
 *
 * Ordering: commands run one at a time through a FIFO queue (a robot has one
 * accessor); a command keeps its place at the head of the queue while it
 * waits to retry. Every attempt gets a fresh, increasing tag, so a late reply
 * to an attempt that timed out is recognised as stale and dropped.
 */
import { SerialPort } from 'serialport';
import { SerialPortStream } from '@serialport/stream';
// The package ships types only for its CommonJS entry point.
import type { BindingInterface } from '@serialport/bindings-interface' with { 'resolution-mode': 'require' };
import { TapestryError, isTapestryError } from '../errors/index.ts';
import type { Clock } from '../time/clock.ts';
import type { Logger } from '../logging/logger.ts';
import { LineSplitter, type SplitItem } from './line-splitter.ts';
import {
  CRLF,
  MAX_TAG,
  formatCommand,
  formatRequest,
  parseEjectReply,
  parseInventory,
  parseReplyLine,
  parseStatus,
  robotErrorByCode,
  robotErrorToTapestry,
  type RobotCommand,
} from './robot-protocol.ts';
import type { ElementAddress, MediaChanger, RobotEvent, RobotInventory, RobotStatus } from './types.ts';

export interface SerialMediaChangerOptions {
  /** Device or pty path, e.g. `/dev/ttyS0` or `var/run/robot`. */
  path: string;
  baudRate: number;
  clock: Clock;
  /** Time allowed for one attempt, from writing the request to the final reply line. */
  commandTimeoutMs: number;
  /** Extra attempts for retryable failures (robot codes 2, 3, 9, 16 and timeouts). */
  retries: number;
  /** Wait between attempts; code 2 (RELEASE_RETRY) waits 10× this. */
  retryDelayMs: number;
  log?: Logger;
  /** A serialport binding (e.g. MockBinding); default: the platform binding of `serialport`. */
  binding?: BindingInterface;
  /** Robot name for logs and error context; default the path. */
  name?: string;
  /**
   * Commands allowed to wait behind the one in progress; more are refused at
   * once with ROBOT_BUSY (retryable) instead of piling up behind a hanging
   * robot. Default 64.
   */
  maxQueued?: number;
}

interface Reply {
  readonly data: string[];
  readonly text: string;
}

interface Attempt {
  readonly tag: number;
  readonly command: string;
  readonly data: string[];
  readonly resolve: (reply: Reply) => void;
  readonly reject: (err: TapestryError) => void;
  /** Cancels the timeout timer. */
  readonly timer: AbortController;
}

/** Element numbers go on the wire as 1–6 digits; anything else is the caller's bug. */
function checkIndex(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 999_999) throw new TapestryError('USERERROR', `${what} must be an integer 1..999999, got ${n}`);
}

export class SerialMediaChanger implements MediaChanger {
  private readonly opts: SerialMediaChangerOptions;
  private readonly name: string;
  private readonly port: SerialPortStream;
  private readonly splitter = new LineSplitter();
  private readonly listeners = new Set<(event: RobotEvent) => void>();
  private readonly opened: Promise<void>;
  /** Aborted when the port is gone: cuts retry sleeps short. */
  private readonly lifetime = new AbortController();
  /** Why the port is unusable (closed, disconnected, never opened); null while usable. */
  private gone: { reason: string; cause?: Error } | null = null;
  private closing: Promise<void> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  /** Commands queued or in progress (the bound of `maxQueued` counts the waiting ones). */
  private pending = 0;
  private current: Attempt | null = null;
  private lastTag = 0;

  /** Starts opening the port; commands wait for it. Use `SerialMediaChanger.open` to fail fast on a bad path. */
  constructor(options: SerialMediaChangerOptions) {
    this.opts = options;
    this.name = options.name ?? options.path;
    const settings = { path: options.path, baudRate: options.baudRate, autoOpen: false };
    this.port = options.binding ? new SerialPortStream({ ...settings, binding: options.binding }) : new SerialPort(settings);
    this.port.on('data', (chunk: Buffer) => {
      for (const item of this.splitter.push(chunk)) this.onItem(item);
    });
    // After open, I/O errors surface as 'close' (serialport closes on disconnect); just log them.
    this.port.on('error', (err: Error) => this.opts.log?.warn({ event: 'robot.port.error', robot: this.name, err }));
    this.port.on('close', (err?: Error | null) => {
      this.markUnreachable(err ? `serial port disconnected: ${err.message}` : 'serial port closed', err ?? undefined);
    });
    this.opened = new Promise<void>((resolve, reject) => {
      this.port.open((err) => {
        if (err) {
          this.gone ??= { reason: `cannot open robot port ${options.path}: ${err.message}`, cause: err };
          reject(this.unreachable());
        } else resolve();
      });
    });
    this.opened.catch(() => undefined); // surfaced by the first command or by open()
  }

  /** Construct and wait until the port is open; throws ROBOT_UNREACHABLE. */
  static async open(options: SerialMediaChangerOptions): Promise<SerialMediaChanger> {
    const changer = new SerialMediaChanger(options);
    await changer.opened;
    return changer;
  }

  // --- MediaChanger ----------------------------------------------------------------------

  async inventory(): Promise<RobotInventory> {
    return this.command({ verb: 'INVENTORY' }, (r) => parseInventory(r.data));
  }

  async status(): Promise<RobotStatus> {
    return this.command({ verb: 'STATUS' }, (r) => parseStatus(r.text));
  }

  async load(slot: number, drive: number): Promise<void> {
    checkIndex('slot', slot);
    checkIndex('drive', drive);
    await this.command({ verb: 'LOAD', slot, drive });
  }

  async unload(drive: number, slot: number): Promise<void> {
    checkIndex('drive', drive);
    checkIndex('slot', slot);
    await this.command({ verb: 'UNLOAD', drive, slot });
  }

  async transfer(from: ElementAddress, to: ElementAddress): Promise<void> {
    checkIndex(from.kind, from.index);
    checkIndex(to.kind, to.index);
    await this.command({ verb: 'TRANSFER', from, to });
  }

  async eject(slot: number, mailslot?: number): Promise<number> {
    checkIndex('slot', slot);
    if (mailslot !== undefined) checkIndex('mailslot', mailslot);
    return this.command(mailslot === undefined ? { verb: 'EJECT', slot } : { verb: 'EJECT', slot, mailslot }, (r) => parseEjectReply(r.text));
  }

  async import(mailslot: number, slot: number): Promise<void> {
    checkIndex('mailslot', mailslot);
    checkIndex('slot', slot);
    await this.command({ verb: 'IMPORT', mailslot, slot });
  }

  onEvent(listener: (event: RobotEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Fail the queue with ROBOT_UNREACHABLE and close the port. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.markUnreachable('media changer closed');
      await this.opened.catch(() => undefined);
      if (this.port.isOpen) await new Promise<void>((resolve) => this.port.close(() => resolve()));
    })();
    return this.closing;
  }

  // --- queue, retries, attempts -------------------------------------------------------------

  /** Queue `cmd`; `parse` turns the reply into the result (a MALFORMED reply is not retried). */
  private command<T = void>(cmd: RobotCommand, parse: (reply: Reply) => T = () => undefined as T): Promise<T> {
    const maxQueued = this.opts.maxQueued ?? 64;
    // pending - 1 wait behind the one in progress.
    if (this.pending > maxQueued) {
      return Promise.reject(new TapestryError('ROBOT_BUSY', `robot ${this.name}: ${this.pending} commands already waiting; "${formatCommand(cmd)}" refused`, {
        context: { robot: this.name, command: formatCommand(cmd), waiting: this.pending },
      }));
    }
    this.pending++;
    const run = this.queue.then(() => this.withRetries(cmd, parse));
    this.queue = run.catch(() => undefined);
    return run.finally(() => this.pending--);
  }

  private async withRetries<T>(cmd: RobotCommand, parse: (reply: Reply) => T): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return parse(await this.attempt(cmd));
      } catch (err) {
        const delay = this.retryDelay(err);
        if (delay === null || attempt > this.opts.retries) {
          if (isTapestryError(err)) Object.assign(err.context, { robot: this.name, command: formatCommand(cmd), attempts: attempt });
          throw err;
        }
        this.opts.log?.warn({ event: 'robot.retry', robot: this.name, command: formatCommand(cmd), attempt, delayMs: delay, code: (err as TapestryError).code, err });
        try {
          await this.opts.clock.sleep(delay, this.lifetime.signal);
        } catch {
          throw this.unreachable(); // the port went away while we waited
        }
      }
    }
  }

  /** Retry delay for a failed attempt, or null when it must not be retried. */
  private retryDelay(err: unknown): number | null {
    if (!isTapestryError(err)) return null;
    if (err.code === 'ROBOT_TIMEOUT') return this.opts.retryDelayMs;
    const code = err.context.robotCode;
    const spec = typeof code === 'number' ? robotErrorByCode(code) : undefined;
    return spec?.retryable ? spec.delayFactor * this.opts.retryDelayMs : null;
  }

  private async attempt(cmd: RobotCommand): Promise<Reply> {
    if (this.gone) throw this.unreachable();
    await this.opened;
    if (this.gone) throw this.unreachable();
    this.lastTag = this.lastTag >= MAX_TAG ? 1 : this.lastTag + 1;
    const tag = this.lastTag;
    const command = formatCommand(cmd);
    return new Promise<Reply>((resolve, reject) => {
      const timer = new AbortController();
      this.current = { tag, command, data: [], resolve, reject, timer };
      this.opts.log?.debug({ event: 'robot.send', robot: this.name, tag, command });
      this.port.write(formatRequest(tag, cmd) + CRLF, (err) => {
        if (err) this.markUnreachable(`write failed: ${err.message}`, err);
      });
      this.opts.clock.sleep(this.opts.commandTimeoutMs, timer.signal).then(
        () => this.settle(tag, new TapestryError('ROBOT_TIMEOUT', `robot did not answer "${command}" within ${this.opts.commandTimeoutMs} ms`, { context: { robot: this.name, command, tag } })),
        () => undefined, // aborted: the attempt settled first
      );
    });
  }

  /** Finish the current attempt if it is still `tag`. */
  private settle(tag: number, outcome: Reply | TapestryError): void {
    const cur = this.current;
    if (cur === null || cur.tag !== tag) return;
    this.current = null;
    cur.timer.abort();
    if (outcome instanceof TapestryError) cur.reject(outcome);
    else cur.resolve(outcome);
  }

  // --- incoming lines ---------------------------------------------------------------------------

  private onItem(item: SplitItem): void {
    if (item.kind === 'error') return this.protocolError(null, `robot sent a bad line: ${item.reason}`);
    if (item.text === '') return;
    const line = parseReplyLine(item.text);
    switch (line.kind) {
      case 'event':
        if (line.event.kind === 'ERR') this.opts.log?.warn({ event: 'robot.untagged_error', robot: this.name, args: line.event.args });
        return this.emit(line.event);
      case 'malformed':
        return this.protocolError(line.tag, line.reason);
    }
    const cur = this.current;
    if (cur === null || line.tag !== cur.tag) {
      this.opts.log?.debug({ event: 'robot.stale_reply', robot: this.name, tag: line.tag, line: item.text });
      return;
    }
    if (line.kind === 'data') cur.data.push(line.data);
    else if (line.kind === 'ok') this.settle(cur.tag, { data: cur.data, text: line.text });
    else this.settle(cur.tag, robotErrorToTapestry(line.code, line.name, line.text, cur.command));
  }

  /** Unparseable robot output fails the command in progress (MALFORMED) unless it names an older tag. */
  private protocolError(tag: number | null, reason: string): void {
    this.opts.log?.warn({ event: 'robot.protocol_error', robot: this.name, tag, reason });
    const cur = this.current;
    if (cur === null || (tag !== null && tag !== cur.tag)) return;
    this.settle(cur.tag, new TapestryError('MALFORMED', `robot protocol error on "${cur.command}": ${reason}`, { context: { robot: this.name, command: cur.command, tag: cur.tag } }));
  }

  private emit(event: RobotEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.opts.log?.warn({ event: 'robot.listener_error', robot: this.name, err });
      }
    }
  }

  /** The port is gone: the command in progress and everything queued fail with ROBOT_UNREACHABLE. */
  private markUnreachable(reason: string, cause?: Error): void {
    if (this.gone === null) {
      this.gone = cause ? { reason, cause } : { reason };
      this.opts.log?.warn({ event: 'robot.unreachable', robot: this.name, reason });
    }
    this.lifetime.abort();
    if (this.current) this.settle(this.current.tag, this.unreachable());
  }

  /** A fresh error per failed command (each gets its own context). */
  private unreachable(): TapestryError {
    const gone = this.gone ?? { reason: 'not connected' };
    return new TapestryError('ROBOT_UNREACHABLE', `robot ${this.name}: ${gone.reason}`, { cause: gone.cause, context: { robot: this.name, path: this.opts.path } });
  }
}
