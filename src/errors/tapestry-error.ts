import { errorSpec, isErrorCode, type ErrorCode } from './codes.ts';

export type ErrorContext = Record<string, unknown>;

/**
 * The one error type that crosses component boundaries. `code` is stable;
 * `context` carries the facts an operator needs (volume, drive, path, …) and is
 * returned as `detail` by the REST API.
 */
export class TapestryError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TapestryError';
    this.code = code;
    this.context = options.context ?? {};
    Object.setPrototypeOf(this, new.target.prototype);
  }

  get retryable(): boolean {
    return errorSpec(this.code).retryable;
  }

  get httpStatus(): number {
    return errorSpec(this.code).http;
  }

  get exitCode(): 1 | 2 {
    return errorSpec(this.code).exit;
  }

  /** The wire shape of DESIGN §5: `{code, message, detail?}`. */
  toJSON(): { code: ErrorCode; message: string; detail?: ErrorContext } {
    return Object.keys(this.context).length > 0
      ? { code: this.code, message: this.message, detail: this.context }
      : { code: this.code, message: this.message };
  }
}

export function isTapestryError(err: unknown, code?: ErrorCode): err is TapestryError {
  return err instanceof TapestryError && (code === undefined || err.code === code);
}

/** Rebuild a TapestryError from a `{code, message, detail}` body received over HTTP. */
export function fromWire(body: unknown, fallbackMessage: string): TapestryError {
  if (typeof body === 'object' && body !== null) {
    const { code, message, detail } = body as { code?: unknown; message?: unknown; detail?: unknown };
    if (isErrorCode(code)) {
      return new TapestryError(code, typeof message === 'string' ? message : fallbackMessage, {
        context: typeof detail === 'object' && detail !== null ? (detail as ErrorContext) : {},
      });
    }
  }
  return new TapestryError('INTERNAL', fallbackMessage);
}
