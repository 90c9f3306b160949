/**
 * Requests generated from the api's OpenAPI document: for every operation, valid requests with each kind of token,
 * then, per parameter and per body property, boundary and hostile values (NUL, huge strings, wrong types, unicode,
 * negative numbers, path traversal, SQL and JSON meta characters), and hostile whole bodies. A seeded PRNG picks
 * the tokens, the valid values and the random strings, so a seed reproduces the same requests.
 */

export interface Schema {
  type?: string;
  $ref?: string;
  allOf?: Schema[];
  oneOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  nullable?: boolean;
  example?: unknown;
  default?: unknown;
  format?: string;
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  security?: Array<Record<string, unknown>>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

/** Who a generated request is sent as; the runner holds the tokens. */
export const AUTHS = ['admin', 'bus', 'checking-read', 'checking-admin', 'none', 'forged'] as const;
export type Auth = (typeof AUTHS)[number];

export interface GeneratedRequest {
  /** `GET /clients/{id}` */
  operation: string;
  method: string;
  /** path and query, percent-encoded as sent */
  url: string;
  headers: Record<string, string>;
  body?: string;
  auth: Auth;
  /** what was varied, for the report of a failure */
  variant: string;
}

/** Valid values the runner knows (client ids, operation ids, execution ids, secrets) for an operation's field. */
export type ValidValues = (operation: string, field: string) => string[];

/** mulberry32: small, fast and good enough to pick test values reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Strings no field of this api should take as they are; each is sent as a path, query, header or JSON value. */
export const HOSTILE_STRINGS: string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u0007\u001b[2J',
  'x'.repeat(5_000),
  'é'.repeat(3_000),
  '💥'.repeat(500),
  '\u202egnp.exe',
  'e\u0301\u0301\u0301',
  '\ud800',
  '\uffff\ufffe',
  '../../../../etc/passwd',
  '..\\..\\..\\windows\\win.ini',
  '/etc/passwd',
  "' OR '1'='1",
  "'; DROP TABLE bus_client; --",
  '" OR ""="',
  '1; SELECT pg_sleep(30)',
  '%',
  '%25%30%30',
  '{"$ne":null}',
  '{"__proto__":{"admin":true}}',
  '__proto__',
  'constructor',
  '${jndi:ldap://127.0.0.1/a}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '*',
  '#',
  'soar.#',
  '-1',
  '-9223372036854775809',
  '1e309',
  'NaN',
  'null',
  'true',
  '[]',
  '=cmd|calc!A1',
  'admin',
];

/** Path segments sent as they are (not encoded again): encodings of NUL, traversal, and malformed escapes. */
export const RAW_PATH_SEGMENTS = ['%00', 'a%00b', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%2F..%2F..%2F', '%ZZ', '%c0%ae%c0%ae%c0%af', '%ED%A0%80', '%FF%FE', '..', '.'];

/** Values for integer parameters, as query text: boundaries, wrong types, and numbers PostgreSQL cannot take. */
const hostileIntegers = (schema: Schema): string[] => {
  const min = schema.minimum ?? 0;
  const max = schema.maximum ?? 1_000_000;
  return [
    String(min),
    String(max),
    String(min - 1),
    String(max + 1),
    '-1',
    '-0',
    '1.5',
    '1e3',
    '1e309',
    'NaN',
    'Infinity',
    '9007199254740993',
    '99999999999999999999',
    '0x10',
    ' 1',
    '',
    'abc',
    '[1]',
    'true',
    '\u0000',
    '1\u00002',
  ];
};

/** JSON values of every type, for body properties. */
const hostileJsonValues = (): unknown[] => [
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER + 2,
  [],
  {},
  [null],
  { __proto__: { admin: true } },
  JSON.parse('{"__proto__":{"admin":true}}'),
  { constructor: { prototype: { admin: true } } },
  nested(2_000),
  DEEP,
  'x'.repeat(300_000),
  ...HOSTILE_STRINGS,
];

/**
 * 20,000 nested arrays as a property value: JSON.stringify itself overflows on it, so the body text is written with
 * a placeholder that is then replaced by the brackets.
 */
const DEEP = '\u0000deep-placeholder\u0000';
const DEEP_JSON = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;

function nested(depth: number): unknown {
  let value: unknown = 'deep';
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** Whole bodies that are not the JSON object an operation takes. */
const HOSTILE_BODIES: Array<{ variant: string; body: string; contentType: string }> = [
  { variant: 'empty body', body: '', contentType: 'application/json' },
  { variant: 'null', body: 'null', contentType: 'application/json' },
  { variant: 'array', body: '[1,2,3]', contentType: 'application/json' },
  { variant: 'string', body: '"text"', contentType: 'application/json' },
  { variant: 'number', body: '-1', contentType: 'application/json' },
  { variant: 'truncated JSON', body: '{"a":', contentType: 'application/json' },
  { variant: 'NUL in JSON text', body: '{"a":"\u0000"}', contentType: 'application/json' },
  { variant: 'BOM', body: '\ufeff{}', contentType: 'application/json' },
  { variant: 'duplicate keys', body: '{"topic":"a","topic":{"b":1}}', contentType: 'application/json' },
  { variant: '20,000 nested arrays', body: `${'['.repeat(20_000)}${']'.repeat(20_000)}`, contentType: 'application/json' },
  { variant: '5,000 nested objects', body: `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`, contentType: 'application/json' },
  { variant: '10,000 keys', body: JSON.stringify(Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]))), contentType: 'application/json' },
  { variant: 'over the body limit', body: JSON.stringify({ padding: 'x'.repeat(2 * 1024 * 1024) }), contentType: 'application/json' },
  { variant: 'JSON as text/plain', body: '{"a":1}', contentType: 'text/plain' },
  { variant: 'form instead of JSON', body: 'a=1&b=%00', contentType: 'application/x-www-form-urlencoded' },
  { variant: 'JSON with a bogus charset', body: '{}', contentType: 'application/json; charset=utf-77' },
  { variant: 'xml', body: '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>', contentType: 'application/xml' },
];

/** A header value fetch can send (a ByteString without CR, LF or NUL). */
const sendableHeader = (value: string) => /^[\x20-\x7e\x80-\xff]*$/.test(value);

export class RequestGenerator {
  private readonly random: () => number;

  constructor(
    private readonly doc: OpenApiDocument,
    private readonly valid: ValidValues,
    /** the auths that may use an operation (the others still get a few requests) */
    private readonly authsFor: (operation: string) => Auth[],
    seed: number,
  ) {
    this.random = seededRandom(seed);
  }

  /** Every operation of the document as `METHOD /path`. */
  operations(): string[] {
    return Object.entries(this.doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
  }

  generate(): GeneratedRequest[] {
    const out: GeneratedRequest[] = [];
    for (const [path, methods] of Object.entries(this.doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) out.push(...this.forOperation(method.toUpperCase(), path, operation));
    }
    return out;
  }

  private forOperation(method: string, path: string, op: Operation): GeneratedRequest[] {
    const key = `${method} ${path}`;
    const parameters = this.parameters(op);
    const bodySchemas = Object.entries(op.requestBody?.content ?? {}).map(([type, c]) => ({ type, schema: this.resolve(c.schema ?? {}) }));
    const out: GeneratedRequest[] = [];
    const allowed = this.authsFor(key);
    const good = () => this.pick(allowed.length > 0 ? allowed : [...AUTHS]);
    const request = (variant: string, auth: Auth, values: Map<Parameter, string | { raw: string }>, body?: { type: string; text: string }): GeneratedRequest => {
      let url = path;
      const query: string[] = [];
      const headers: Record<string, string> = {};
      for (const [p, value] of values) {
        const encoded = typeof value === 'string' ? encodeURIComponent(safe(value)) : value.raw;
        if (p.in === 'path') url = url.replace(`{${p.name}}`, encoded);
        else if (p.in === 'query') query.push(`${encodeURIComponent(p.name)}=${encoded}`);
        else if (p.in === 'header' && typeof value === 'string') headers[p.name.toLowerCase()] = value;
      }
      if (body) headers['content-type'] = body.type;
      return { operation: key, method, url: query.length ? `${url}?${query.join('&')}` : url, headers, body: body?.text, auth, variant };
    };
    const validValues = () => {
      const values = new Map<Parameter, string | { raw: string }>();
      for (const p of parameters) if (p.in === 'path' || p.required || this.random() < 0.5) values.set(p, this.validFor(key, p.name, p.schema ?? {}));
      return values;
    };
    const validBody = (schema: Schema) => this.validObject(key, schema);
    const encodeBody = (type: string, value: unknown) => ({
      type,
      text: type.includes('x-www-form-urlencoded') ? formOf(value) : JSON.stringify(value).replace(JSON.stringify(DEEP), DEEP_JSON),
    });

    // valid requests, as every kind of caller
    for (const auth of AUTHS) {
      const body = bodySchemas[0];
      out.push(request(`valid, as ${auth}`, auth, validValues(), body ? encodeBody(body.type, validBody(body.schema)) : undefined));
    }
    for (const body of bodySchemas.slice(1)) out.push(request(`valid, as ${body.type}`, good(), validValues(), encodeBody(body.type, validBody(body.schema))));

    // each parameter in turn, the others valid
    for (const p of parameters) {
      const schema = p.schema ?? {};
      const candidates: Array<string | { raw: string }> = [];
      if (isInteger(schema)) candidates.push(...hostileIntegers(schema));
      else candidates.push(...HOSTILE_STRINGS, ...this.randomStrings(4));
      if (p.in === 'path') candidates.push(...RAW_PATH_SEGMENTS.map((raw) => ({ raw })));
      if (p.in === 'query') candidates.push({ raw: `1&${encodeURIComponent(p.name)}=2` }, { raw: '%00' }, { raw: '%ZZ' });
      for (const value of candidates) {
        if (p.in === 'header' && (typeof value !== 'string' || !sendableHeader(value))) continue;
        const values = validValues();
        values.set(p, value);
        const body = bodySchemas[0];
        out.push(request(`${p.in} ${p.name} = ${show(value)}`, good(), values, body ? encodeBody(body.type, validBody(body.schema)) : undefined));
      }
    }

    // each body property in turn, and the body as a whole
    for (const { type, schema } of bodySchemas) {
      const properties = Object.keys(schema.properties ?? {});
      for (const name of properties) {
        const without = validBody(schema);
        delete without[name];
        out.push(request(`body without ${name} (${type})`, good(), validValues(), encodeBody(type, without)));
        for (const value of hostileJsonValues()) {
          // a form body carries text only: its hostile values are the strings
          if (type.includes('x-www-form-urlencoded') && typeof value !== 'string') continue;
          const body = validBody(schema);
          body[name] = value;
          out.push(request(`body ${name} = ${show(value)} (${type})`, good(), validValues(), encodeBody(type, body)));
        }
      }
      const extra = validBody(schema);
      extra['unexpected_field'] = 'x';
      out.push(request(`body with an unknown field (${type})`, good(), validValues(), encodeBody(type, extra)));
      out.push(request(`body with a __proto__ key (${type})`, good(), validValues(), { type, text: JSON.stringify(validBody(schema)).replace(/^\{/, '{"__proto__":{"scopes":["admin"]},') }));
    }
    if (bodySchemas.length > 0 || method === 'POST' || method === 'PATCH') {
      for (const hostile of HOSTILE_BODIES) out.push(request(`whole body: ${hostile.variant}`, good(), validValues(), { type: hostile.contentType, text: hostile.body }));
    }
    return out;
  }

  private validFor(operation: string, name: string, schema: Schema): string {
    const known = this.valid(operation, name);
    if (known.length > 0) return this.pick(known);
    if (schema.enum?.length) return String(this.pick(schema.enum));
    if (isInteger(schema)) {
      const min = schema.minimum ?? 0;
      const max = Math.min(schema.maximum ?? min + 10, min + 10);
      return String(min + Math.floor(this.random() * (max - min + 1)));
    }
    if (schema.example !== undefined) return String(schema.example);
    return 'valid';
  }

  private validObject(operation: string, schema: Schema): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, raw] of Object.entries(schema.properties ?? {})) {
      const property = this.resolve(raw);
      const known = this.valid(operation, name);
      if (!schema.required?.includes(name) && known.length === 0 && this.random() < 0.5) continue;
      if (known.length > 0) out[name] = this.pick(known);
      else if (property.example !== undefined) out[name] = property.example;
      else if (property.enum?.length) out[name] = this.pick(property.enum);
      else if (property.default !== undefined) out[name] = property.default;
      else if (property.type === 'boolean') out[name] = this.random() < 0.5;
      else if (isInteger(property)) out[name] = property.minimum ?? 1;
      else if (property.type === 'array') out[name] = [];
      else if (property.type === 'object' || property.oneOf) out[name] = { n: Math.floor(this.random() * 1000) };
      else out[name] = `valid-${Math.floor(this.random() * 1000)}`;
    }
    return out;
  }

  /** Random unicode strings, from every plane and from the control characters. */
  private randomStrings(count: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const length = 1 + Math.floor(this.random() * 40);
      let s = '';
      for (let j = 0; j < length; j++) {
        const kind = this.random();
        const code = kind < 0.3 ? Math.floor(this.random() * 0x80) : kind < 0.6 ? Math.floor(this.random() * 0x800) : kind < 0.9 ? Math.floor(this.random() * 0xffff) : 0x10000 + Math.floor(this.random() * 0xfffff);
        s += String.fromCodePoint(code);
      }
      out.push(s);
    }
    return out;
  }

  private parameters(op: Operation): Parameter[] {
    // one entry per header, whatever its case (the document may list one header twice)
    const seen = new Set<string>();
    return (op.parameters ?? []).filter((p) => {
      const id = `${p.in}:${p.in === 'header' ? p.name.toLowerCase() : p.name}`;
      if (seen.has(id) || p.in === 'cookie') return false;
      seen.add(id);
      return true;
    });
  }

  private resolve(schema: Schema): Schema {
    if (schema.$ref) {
      const name = schema.$ref.split('/').pop() ?? '';
      return this.resolve(this.doc.components?.schemas?.[name] ?? {});
    }
    if (schema.allOf?.length) return Object.assign({}, ...schema.allOf.map((s) => this.resolve(s)), { ...schema, allOf: undefined });
    return schema;
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }
}

const isInteger = (schema: Schema) => schema.type === 'integer' || schema.type === 'number';

/** encodeURIComponent refuses a lone surrogate: such a string is sent as its replacement character. */
const safe = (value: string) => value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

function formOf(value: unknown): string {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) form.set(k, typeof v === 'string' ? safe(v) : JSON.stringify(v));
  return form.toString();
}

function show(value: unknown): string {
  if (value === DEEP) return '20,000 nested arrays';
  const text = typeof value === 'object' && value !== null && 'raw' in value ? `raw ${(value as { raw: string }).raw}` : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 40)}… (${text.length} chars)` : text;
}
