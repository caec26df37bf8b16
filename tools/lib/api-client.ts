import http from 'node:http';
import https from 'node:https';
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

  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const url = `${this.baseUrl}/api/v1${path}`;
    let res: { status: number; text: string };
    try {
      res = await send(method, url, body === undefined ? undefined : JSON.stringify(body), signal ? AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]) : AbortSignal.timeout(this.timeoutMs));
    } catch (err) {
      const cause = (err as { code?: string }).code ?? (err as Error).name;
      throw new TapestryError('UNAVAILABLE', `cannot reach Tapestry at ${this.baseUrl} (${cause}); is \`tapestry start\` running? Set TAPESTRY_URL to use another address.`, {
        cause: err,
        context: { url: this.baseUrl },
      });
    }
    let parsed: unknown = undefined;
    if (res.text.length > 0) {
      try {
        parsed = JSON.parse(res.text);
      } catch {
        throw new TapestryError('MALFORMED', `${method} ${url} answered ${res.status} with a body that is not JSON`);
      }
    }
    if (res.status < 200 || res.status > 299) throw fromWire(parsed, `${method} ${path} failed with HTTP ${res.status}`);
    return parsed as T;
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path, undefined, signal);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }
}

/**
 * One HTTP exchange with node:http rather than fetch: a CLI makes a handful of
 * calls per run, and fetch's first call costs ~100 ms of start-up (loading
 * undici) against ~15 ms here — for `encp` of a small file, a large share.
 * Keep-alive, so a run's calls share one connection.
 */
const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

function send(method: string, url: string, body: string | undefined, signal: AbortSignal): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  const agent = u.protocol === 'https:' ? agents['https:'] : agents['http:'];
  return new Promise((resolve, reject) => {
    const req = lib.request(u, {
      method,
      agent,
      signal,
      headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
