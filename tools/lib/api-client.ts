import { fromWire, TapestryError } from '../../src/errors/index.ts';

export const DEFAULT_URL = 'http://127.0.0.1:8420';

/**
 * The CLIs are thin clients of the REST API (DESIGN §5). Errors come back as
 * `{code, message, detail}` and are rebuilt into TapestryErrors so the CLI
 * prints the same code and exits with the same status as the server meant.
 */
export class ApiClient {
  readonly baseUrl: string;

  constructor(baseUrl = process.env.TAPESTRY_URL ?? DEFAULT_URL, private readonly timeoutMs = 120_000) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl}/api/v1${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new TapestryError('UNAVAILABLE', `cannot reach Tapestry at ${this.baseUrl} (${cause}); is \`tapestry start\` running? Set TAPESTRY_URL to use another address.`, {
        cause: err,
        context: { url: this.baseUrl },
      });
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new TapestryError('MALFORMED', `${method} ${url} answered ${res.status} with a body that is not JSON`);
      }
    }
    if (!res.ok) throw fromWire(parsed, `${method} ${path} failed with HTTP ${res.status}`);
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }
}
