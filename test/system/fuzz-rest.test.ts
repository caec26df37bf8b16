import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { embeddedUrl } from '../../src/db/embedded.ts';
import type { RunningTapestry } from '../helpers/cli.ts';
import { Rng, fuzzSeed, invalidJsonText, junkNumber, junkString, junkValue, uncoercible } from '../helpers/fuzz.ts';
import type { TestInstallation } from '../helpers/system-config.ts';
import { withSystem } from '../helpers/system-fixture.ts';

/**
 * Bad input on every REST route (issue 5; docs/faults-fuzz.md). The routes
 * come from the running server's OpenAPI document, never a hand list; each
 * gets random requests built from its own schemas: invalid JSON, a wrong
 * content type, the wrong top-level type, unknown or missing fields, fields
 * of the wrong type or out of bounds, junk path parameters and query strings,
 * malformed URLs. Every answer must come (no hang), be a 4xx with an error
 * `code` in its body (GETs: anything but a 5xx), and leave the database and
 * the simulator as they were.
 *
 * Sandbox: a request the schema accepts could be a valid destructive
 * operation (declare a volume, start an import, submit a transfer), so
 * schema-valid bodies only go to routes whose path parameters are junk (no
 * such volume/file/drive: the operation has nothing to act on); routes
 * without path parameters get schema-invalid input only.
 *
 * `FUZZ_SEED=<n>` replays a run; `FUZZ_PER_ROUTE=<n>` sets requests per route.
 */
const PER_ROUTE = Number(process.env.FUZZ_PER_ROUTE ?? 80);
const CONCURRENCY = 12;
const REQUEST_TIMEOUT_MS = 20_000;

const seed = fuzzSeed('fuzz-rest');
const rng = new Rng(seed);

let inst: TestInstallation;
let sys: RunningTapestry;

withSystem({ timeScale: 0.001 }, (s) => {
  ({ inst, sys } = s);
});

// --- the routes, from the OpenAPI document --------------------------------------------------------

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  oneOf?: Schema[];
  anyOf?: Schema[];
}

interface Param {
  readonly name: string;
  readonly in: 'path' | 'query';
  readonly required: boolean;
  readonly schema: Schema;
}

interface Route {
  readonly method: string;
  readonly path: string;
  readonly params: readonly Param[];
  readonly body: Schema | null;
}

async function routes(): Promise<Route[]> {
  const doc = (await (await fetch(`${sys.url}/docs/json`)).json()) as {
    paths: Record<string, Record<string, { parameters?: Param[]; requestBody?: { content: Record<string, { schema: Schema }> } }>>;
  };
  const out: Route[] = [];
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      out.push({ method: method.toUpperCase(), path: p, params: (op.parameters ?? []).map((x) => ({ ...x, required: x.required === true })), body: op.requestBody?.content['application/json']?.schema ?? null });
    }
  }
  return out;
}

// --- values from schemas ------------------------------------------------------------------------

const typeOf = (s: Schema): string | undefined => (Array.isArray(s.type) ? s.type[0] : s.type) ?? (s.properties ? 'object' : s.enum ? 'enum' : undefined);

/** A value the schema refuses whatever the coercion rules (coerceTypes: 'array'), or undefined when it accepts anything. */
function violating(r: Rng, s: Schema): unknown {
  if (s.oneOf || s.anyOf) {
    const branches = (s.oneOf ?? s.anyOf)!;
    return branches.every((b) => typeOf(b) === 'object') ? r.pick<unknown>([7, 'text', [], null]) : undefined;
  }
  const options: unknown[] = [];
  switch (typeOf(s)) {
    case 'object':
      options.push('text', 42, [], null, true);
      break;
    case 'string':
      options.push(uncoercible(r));
      if (s.maxLength !== undefined) options.push('x'.repeat(s.maxLength + 1 + r.int(100)));
      if (s.minLength !== undefined && s.minLength > 0) options.push('');
      if (s.pattern !== undefined && !new RegExp(s.pattern).test('!! ')) options.push('!! ');
      if (s.enum) options.push(`not-${String(s.enum[0])}-${r.int(1000)}`);
      break;
    case 'integer':
    case 'number':
      options.push(uncoercible(r), 'abc', '');
      if (typeOf(s) === 'integer') options.push(1.5, '2.5');
      if (s.minimum !== undefined) options.push(s.minimum - 1 - r.int(1000));
      if (s.maximum !== undefined) options.push(s.maximum + 1 + r.int(1000));
      break;
    case 'boolean':
      options.push('maybe', 2, uncoercible(r));
      break;
    case 'array':
      options.push({ a: 1 });
      if (s.minItems !== undefined && s.minItems > 0) options.push([]);
      if (s.maxItems !== undefined) options.push(Array.from({ length: s.maxItems + 1 }, () => 'x'));
      if (s.items) {
        const bad = violating(r, s.items);
        if (bad !== undefined) options.push([bad]);
      }
      break;
    case 'enum':
      options.push(`not-${String(s.enum![0])}`, uncoercible(r));
      break;
    default:
      return undefined;
  }
  return r.pick(options);
}

/**
 * violating() for a query parameter: a query value is always text, so an
 * object sent as its JSON text is a perfectly good string — only length,
 * pattern, enum and count limits can make a string invalid there.
 */
function violatingQuery(r: Rng, s: Schema): unknown {
  const t = typeOf(s);
  if (t === 'string' || t === 'enum') {
    const options: unknown[] = [];
    if (s.maxLength !== undefined) options.push('x'.repeat(s.maxLength + 1 + r.int(100)));
    if (s.minLength !== undefined && s.minLength > 0) options.push('');
    if (s.pattern !== undefined && !new RegExp(s.pattern).test('!! ')) options.push('!! ');
    if (s.enum) options.push(`not-${String(s.enum[0])}-${r.int(1000)}`);
    return options.length > 0 ? r.pick(options) : undefined;
  }
  if (t === 'array') {
    const options: unknown[] = [];
    if (s.maxItems !== undefined) options.push(Array.from({ length: s.maxItems + 1 }, () => 'x'));
    const bad = s.items ? violatingQuery(r, s.items) : undefined;
    if (bad !== undefined) options.push([bad]);
    return options.length > 0 ? r.pick(options) : undefined;
  }
  return violating(r, s);
}

/** A value the schema accepts, chosen from the nasty end: huge, unicode, NUL, negative, at the bounds. */
function extreme(r: Rng, s: Schema, depth = 0): unknown {
  if (s.oneOf || s.anyOf) return extreme(r, r.pick((s.oneOf ?? s.anyOf)!), depth);
  if (s.enum) return r.pick(s.enum);
  switch (typeOf(s)) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.properties ?? {})) if ((s.required ?? []).includes(k) || r.chance(0.5)) out[k] = extreme(r, v, depth + 1);
      if (!s.properties && depth < 3) return junkValue(r, 2);
      return out;
    }
    case 'string':
      for (let attempt = 0; attempt < 8; attempt++) {
        let v = junkString(r);
        if (s.maxLength !== undefined) v = v.slice(0, s.maxLength);
        if (s.minLength !== undefined && v.length < s.minLength) v = v.padEnd(s.minLength, 'Z');
        if (s.pattern === undefined || new RegExp(s.pattern, 'u').test(v)) return v;
      }
      return s.pattern?.startsWith('^/') ? `/fuzz/${r.u32()}` : `FZ${r.range(1000, 9999)}`;
    case 'integer':
    case 'number': {
      const candidates = [junkNumber(r), s.minimum, s.maximum, 0, 2 ** 53 - 1, 2 ** 62].filter((n): n is number => n !== undefined);
      const ok = candidates.filter((n) => (typeOf(s) === 'number' || Number.isInteger(n)) && (s.minimum === undefined || n >= s.minimum) && (s.maximum === undefined || n <= s.maximum));
      return ok.length > 0 ? r.pick(ok) : s.minimum ?? 0;
    }
    case 'boolean':
      return r.chance(0.5);
    case 'array':
      return s.items ? [extreme(r, s.items, depth + 1)] : [];
    default:
      return junkValue(r, 2);
  }
}

/** A path parameter naming nothing that exists: junk text, or numbers beyond every column's range. */
function junkPathParam(r: Rng, p: Param): string {
  const raw = typeOf(p.schema) === 'integer'
    ? r.pick(['abc', '-1', '99999999999999999999', '9223372036854775808', '1.5', '0x1f', '1e3', '9007199254740993', '2147483648', '0', ' 1'])
    : r.chance(0.1) ? junkString(r) : junkString(r).slice(0, 2000);
  return encodeComponent(raw);
}

/** encodeURIComponent, except that a lone surrogate (which it refuses) goes out as its raw UTF-16 units' replacement. */
function encodeComponent(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '\ufffd'));
  }
}

function queryValue(v: unknown): string[] {
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x)));
  if (v !== null && typeof v === 'object') return [JSON.stringify(v)];
  return [String(v)];
}

// --- requests ---------------------------------------------------------------------------------------

interface FuzzRequest {
  readonly kind: string;
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  /** Built to violate the route's schema (or the URL syntax): must be a 4xx whatever the method. */
  readonly invalid: boolean;
}

function build(r: Rng, route: Route): FuzzRequest {
  const pathParams = route.params.filter((p) => p.in === 'path');
  const queryParams = route.params.filter((p) => p.in === 'query');
  const hasBody = route.method !== 'GET' && route.method !== 'HEAD';
  const kinds: string[] = ['junk-params', 'bad-url'];
  if (queryParams.length > 0) kinds.push('bad-query', 'bad-query', 'junk-query');
  if (queryParams.some((p) => p.required)) kinds.push('missing-query');
  if (hasBody) kinds.push('invalid-json', 'content-type');
  if (hasBody && route.body) {
    kinds.push('top-type', 'bad-field', 'bad-field', 'missing-field');
    if (alwaysClosed(route.body)) kinds.push('extra-field');
    if (pathParams.length > 0) kinds.push('junk-body');
  }
  const kind = r.pick(kinds);
  let invalid = !['junk-params', 'junk-query', 'junk-body'].includes(kind);

  let url = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => junkPathParam(r, pathParams.find((p) => p.name === name)!));
  if (kind === 'bad-url') {
    const variants = [
      `${url}/%zz`, // an extra segment with a broken escape
      `${url.replace('/api/v1/', '/api/v1//')}%00`,
      `${url}?${'a'.repeat(70_000)}=1`, // beyond the request-line limit
      url.replace(/\/[^/]*$/, `/${'x'.repeat(20_000)}`),
      url.replace(/\/[^/]*$/, '/%E0%A4%A'), // a truncated UTF-8 escape
      `${url}?%`, // a broken query string on the route itself: only as valid as the rest of the request
    ];
    const v = r.int(variants.length);
    url = variants[v]!;
    invalid = v !== variants.length - 1;
  }

  const query = new URLSearchParams();
  for (const p of queryParams) {
    const pick = kind === 'bad-query' || kind === 'junk-query' || kind === 'missing-query' || p.required || r.chance(0.3);
    if (!pick) continue;
    let value: unknown = extreme(r, p.schema);
    if (kind === 'missing-query' && p.required) continue;
    if (kind === 'bad-query' && r.chance(0.7)) value = violatingQuery(r, p.schema) ?? value;
    for (const v of queryValue(value)) query.append(p.name, v);
  }
  if (kind === 'bad-query') {
    // Make sure at least one query value is refused by its schema.
    const victim = queryParams.find((p) => violatingQuery(r, p.schema) !== undefined);
    if (victim) {
      query.delete(victim.name);
      for (const v of queryValue(violatingQuery(r, victim.schema))) query.append(victim.name, v);
    } else {
      invalid = false;
    }
  }
  if (kind === 'missing-query' && !queryParams.some((p) => p.required)) invalid = false;
  const qs = query.toString();
  if (qs && kind !== 'bad-url') url += `?${qs}`;

  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (hasBody) {
    let value: unknown = route.body ? extreme(r, route.body) : junkValue(r, 2);
    switch (kind) {
      case 'invalid-json':
        headers['content-type'] = 'application/json';
        return { kind, method: route.method, url, headers, body: invalidJsonText(r), invalid: true };
      case 'content-type':
        headers['content-type'] = r.pick(['application/x-fuzz', 'text/xml', 'multipart/form-data; boundary=x', 'application/json-junk', 'image/png']);
        return { kind, method: route.method, url, headers, body: r.bytes(r.range(1, 300)).toString('latin1'), invalid: true };
      case 'top-type':
        value = violating(r, { ...route.body!, properties: undefined, type: typeOf(route.body!) ?? 'object' }) ?? 42;
        break;
      case 'extra-field':
        value = { ...(typeof value === 'object' && value !== null ? value : {}), [`fuzz_${r.u32().toString(36)}`]: junkValue(r, 2) };
        break;
      case 'missing-field': {
        const obj = { ...(value as Record<string, unknown>) };
        const required = requiredOf(route.body!);
        if (required.length === 0) invalid = false;
        for (const k of required) if (r.chance(0.7)) delete obj[k];
        if (required.length > 0 && required.every((k) => k in obj)) delete obj[required[0]!];
        value = obj;
        break;
      }
      case 'bad-field': {
        const props = propertiesOf(route.body!);
        const names = Object.keys(props).filter((k) => violating(r, props[k]!) !== undefined);
        if (names.length === 0) {
          invalid = false;
          break;
        }
        const k = r.pick(names);
        value = { ...(value as Record<string, unknown>), [k]: violating(r, props[k]!) };
        break;
      }
      default:
        break;
    }
    headers['content-type'] = 'application/json';
    body = JSON.stringify(value);
  }
  return { kind, method: route.method, url, headers, body, invalid };
}

/**
 * A request for `route`. A non-GET route that names nothing in its path or a
 * required query parameter acts on the whole system (declare, import, eject,
 * auto-readonly…): it only ever gets requests its schema refuses.
 */
function fuzzRequest(r: Rng, route: Route): FuzzRequest {
  const sandboxed = route.method !== 'GET' && !route.params.some((p) => p.in === 'path' || (p.in === 'query' && p.required));
  for (;;) {
    const req = build(r, route);
    if (req.invalid || !sandboxed) return req;
  }
}

/** Every branch refuses unknown properties: one extra field makes any body invalid. */
function alwaysClosed(s: Schema): boolean {
  const branches = s.oneOf ?? s.anyOf ?? [s];
  return branches.every((b) => typeOf(b) === 'object' && b.additionalProperties === false);
}

function requiredOf(s: Schema): string[] {
  const branches = s.oneOf ?? s.anyOf ?? [s];
  // A field required by every branch: leaving it out is invalid whichever branch was meant.
  return (branches[0]!.required ?? []).filter((k) => branches.every((b) => (b.required ?? []).includes(k)));
}

function propertiesOf(s: Schema): Record<string, Schema> {
  return s.oneOf || s.anyOf ? {} : s.properties ?? {};
}

// --- state --------------------------------------------------------------------------------------------

type Snapshot = Map<string, string>;

/** Every table's row count and content digest, plus the simulator's fault list. */
async function snapshot(db: pg.Client): Promise<Snapshot> {
  const out: Snapshot = new Map();
  const { rows } = await db.query<{ t: string }>("SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  for (const { t } of rows) {
    const r = await db.query<{ n: string; h: string | null }>(`SELECT count(*) AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS h FROM ${t} x`);
    out.set(t, `${r.rows[0]!.n}:${r.rows[0]!.h ?? ''}`);
  }
  out.set('sim:faults', JSON.stringify(await (await fetch(`${sys.url}/api/v1/sim/faults`)).json()));
  out.set('volumes', JSON.stringify(await (await fetch(`${sys.url}/api/v1/volumes`)).json()));
  return out;
}

function changed(a: Snapshot, b: Snapshot, ignore: ReadonlySet<string> = new Set()): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].filter((k) => !ignore.has(k) && a.get(k) !== b.get(k));
}

// --- the test ---------------------------------------------------------------------------------------------

test(`every REST route answers ${PER_ROUTE} random invalid requests with a 4xx and an error code, and changes nothing`, { timeout: 600_000 }, async () => {
  const all = await routes();
  assert.ok(all.length >= 60, `the OpenAPI document lists the routes (${all.length})`);
  const db = new pg.Client({ connectionString: await embeddedUrl(path.join(inst.dir, 'var', 'pg')) });
  await db.connect();
  try {
    // Tables that change by themselves (heartbeats, timers) are found by looking twice, not listed by hand.
    const first = await snapshot(db);
    await new Promise((r) => setTimeout(r, 2000));
    const before = await snapshot(db);
    const volatile = new Set(changed(first, before));
    console.log(`# [fuzz] ${all.length} routes; tables that change by themselves (not compared): ${[...volatile].join(', ') || 'none'}`);

    const jobs: { route: Route; req: FuzzRequest }[] = [];
    for (const route of all) {
      const r = rng.fork();
      for (let i = 0; i < PER_ROUTE; i++) jobs.push({ route, req: fuzzRequest(r, route) });
    }
    const failures: string[] = [];
    const statuses = new Map<string, number>();
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < jobs.length; i = next++) {
        const { route, req } = jobs[i]!;
        const what = `#${i} ${req.kind} ${req.method} ${req.url.slice(0, 300)} body ${JSON.stringify(req.body?.slice(0, 300))} (route ${route.method} ${route.path}, seed ${seed})`;
        let status: number;
        let text: string;
        try {
          const res = await fetch(`${sys.url}${req.url}`, { method: req.method, headers: req.headers, body: req.body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
          status = res.status;
          text = await res.text();
        } catch (err) {
          failures.push(`${what}: no answer: ${(err as Error).message}`);
          continue;
        }
        statuses.set(String(status), (statuses.get(String(status)) ?? 0) + 1);
        let code: unknown;
        try {
          code = (JSON.parse(text) as { code?: unknown }).code;
        } catch {
          code = undefined;
        }
        const mustRefuse = req.invalid || req.method !== 'GET';
        if (status >= 500) failures.push(`${what}: ${status} ${text.slice(0, 300)}`);
        else if (mustRefuse && status < 400) failures.push(`${what}: accepted (${status}) ${text.slice(0, 300)}`);
        else if (status >= 400 && typeof code !== 'string') failures.push(`${what}: ${status} without an error code: ${text.slice(0, 300)}`);
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    console.log(`# [fuzz] ${jobs.length} requests in ${seconds.toFixed(1)} s = ${Math.round(jobs.length / seconds)} requests/s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);

    const after = await snapshot(db);
    const diff = changed(before, after, volatile);
    assert.deepEqual(failures.slice(0, 40), [], `${failures.length} bad answers`);
    assert.deepEqual(diff, [], 'invalid requests changed nothing');
    const health = await fetch(`${sys.url}/api/v1/health`);
    assert.equal(health.status, 200);
  } finally {
    await db.end();
  }
});
