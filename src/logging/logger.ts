import { Writable } from 'node:stream';
import winston from 'winston';

/**
 * Structured logging: JSON lines, one event per line, with the scope of the
 * component that wrote it (`{component, mover, volume, requestId}`). Callers log
 * objects first, message optional: `log.info({event: 'mount.done', volume, ms})`.
 */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface Logger {
  fatal(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  trace(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
  /** The current threshold; lets callers skip building expensive log objects. */
  readonly level: LogLevel;
}

// winston's default levels lack fatal/trace; fastify needs both (STYLE: logger contract).
const LEVELS: Record<LogLevel, number> = { fatal: 0, error: 1, warn: 2, info: 3, debug: 4, trace: 5 };

export interface LoggerOptions {
  level?: LogLevel;
  /** Append JSON lines to this file as well as stderr. */
  file?: string | null;
  /** Write to stderr (default true). CLIs set it false and log to a file only. */
  console?: boolean;
  /** Human-readable console lines instead of JSON (for an interactive `tapestry start`). */
  pretty?: boolean;
}

function errorToObject(err: Error): Record<string, unknown> {
  const code = (err as { code?: unknown }).code;
  return { type: err.name, message: err.message, ...(code === undefined ? {} : { code }), stack: err.stack };
}

/** Turn Error values (top level or in `err`) into plain objects so JSON keeps them. */
function normalise(obj: object | string, msg?: string): Record<string, unknown> {
  if (typeof obj === 'string') return { message: obj };
  if (obj instanceof Error) return { err: errorToObject(obj), message: msg ?? obj.message };
  const out: Record<string, unknown> = { ...(obj as Record<string, unknown>) };
  for (const key of ['err', 'error']) {
    const value = out[key];
    if (value instanceof Error) out[key] = errorToObject(value);
  }
  if (msg !== undefined) out.message = msg;
  return out;
}

class WinstonLogger implements Logger {
  constructor(private readonly w: winston.Logger, readonly level: LogLevel) {}

  private write(level: LogLevel, obj: object | string, msg?: string): void {
    if (LEVELS[level] > LEVELS[this.level]) return;
    const { message, ...rest } = normalise(obj, msg);
    this.w.log(level, typeof message === 'string' ? message : '', rest);
  }

  fatal(obj: object | string, msg?: string): void { this.write('fatal', obj, msg); }
  error(obj: object | string, msg?: string): void { this.write('error', obj, msg); }
  warn(obj: object | string, msg?: string): void { this.write('warn', obj, msg); }
  info(obj: object | string, msg?: string): void { this.write('info', obj, msg); }
  debug(obj: object | string, msg?: string): void { this.write('debug', obj, msg); }
  trace(obj: object | string, msg?: string): void { this.write('trace', obj, msg); }

  child(bindings: Record<string, unknown>): Logger {
    return new WinstonLogger(this.w.child(bindings), this.level);
  }
}

const prettyFormat = winston.format.printf((info) => {
  const { level, message, timestamp, component, event, ...rest } = info as Record<string, unknown>;
  const head = [timestamp, String(level).toUpperCase().padEnd(5), component ? `[${String(component)}]` : '', event ?? '', message ?? '']
    .filter((p) => p !== '' && p !== undefined)
    .join(' ');
  const tail = Object.keys(rest).length > 0 ? ' ' + JSON.stringify(rest) : '';
  return head + tail;
});

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const transports: winston.transport[] = [];
  if (options.console !== false) {
    transports.push(
      new winston.transports.Stream({
        stream: process.stderr,
        format: options.pretty ? winston.format.combine(winston.format.timestamp({ format: 'HH:mm:ss.SSS' }), prettyFormat) : winston.format.combine(winston.format.timestamp(), winston.format.json()),
      }),
    );
  }
  if (options.file) {
    transports.push(new winston.transports.File({ filename: options.file, format: winston.format.combine(winston.format.timestamp(), winston.format.json()) }));
  }
  if (transports.length === 0) transports.push(new winston.transports.Stream({ stream: new NullStream() }));
  const w = winston.createLogger({ levels: LEVELS, level, transports });
  return new WinstonLogger(w, level);
}

class NullStream extends Writable {
  override _write(_chunk: unknown, _enc: BufferEncoding, cb: () => void): void {
    cb();
  }
}

/** A logger that drops everything: the default for unit tests. */
export function silentLogger(): Logger {
  return createLogger({ console: false, level: 'fatal' });
}
