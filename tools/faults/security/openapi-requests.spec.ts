import { AUTHS, OpenApiDocument, RequestGenerator } from './openapi-requests';

const doc: OpenApiDocument = {
  paths: {
    '/things/{id}': {
      get: {
        parameters: [
          { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 50 } },
          { name: 'Idempotency-Key', in: 'header', schema: { type: 'string' } },
          { name: 'idempotency-key', in: 'header', schema: { type: 'string' } },
        ],
      },
    },
    '/things': {
      post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } } },
    },
  },
  components: { schemas: { Thing: { type: 'object', properties: { name: { type: 'string', example: 'a' }, size: { type: 'integer' } }, required: ['name'] } } },
};

const generate = (seed: number) => new RequestGenerator(doc, (_op, field) => (field === 'id' ? ['thing-1'] : []), () => ['admin'], seed).generate();

describe('requests generated from an OpenAPI document', () => {
  it('are the same for the same seed, and differ for another', () => {
    expect(generate(7)).toEqual(generate(7));
    expect(generate(7)).not.toEqual(generate(8));
  });

  it('cover every operation, each with a valid request as every kind of caller', () => {
    const requests = generate(1);
    for (const operation of ['GET /things/{id}', 'POST /things']) {
      const valid = requests.filter((r) => r.operation === operation && r.variant.startsWith('valid'));
      expect(valid.map((r) => r.auth)).toEqual([...AUTHS]);
    }
    expect(requests.find((r) => r.variant === 'valid, as admin' && r.method === 'GET')?.url).toMatch(/^\/things\/thing-1/);
  });

  it('vary each parameter with hostile values: NUL, traversal, wrong types, out-of-range integers', () => {
    const urls = generate(1).map((r) => r.url);
    const paths = urls.map((u) => u.split('?')[0]);
    expect(paths).toEqual(expect.arrayContaining(['/things/%00', '/things/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/things/a%00b']));
    expect(urls.some((u) => u.includes('limit=51'))).toBe(true);
    expect(urls.some((u) => u.includes('limit=0'))).toBe(true);
    expect(urls.some((u) => u.includes('limit=1e309'))).toBe(true);
    expect(paths).toContain(`/things/${encodeURIComponent("' OR '1'='1")}`);
  });

  it('send a header listed twice under two cases once, and never a value fetch cannot send', () => {
    const headerVariants = generate(1).filter((r) => r.variant.startsWith('header'));
    expect(new Set(headerVariants.map((r) => r.variant.split(' ')[1]))).toEqual(new Set(['Idempotency-Key']));
    expect(headerVariants.every((r) => Object.values(r.headers).every((v) => /^[\x20-\x7e\x80-\xff]*$/.test(v)))).toBe(true);
  });

  it('vary each body property with every JSON type, and send hostile whole bodies', () => {
    const posts = generate(1).filter((r) => r.method === 'POST');
    expect(posts.some((r) => r.variant === 'body without name (application/json)')).toBe(true);
    expect(posts.some((r) => r.body === JSON.stringify({ name: null }) || r.body?.startsWith('{"name":null'))).toBe(true);
    expect(posts.some((r) => r.variant.startsWith('body size = "\\u0000"'))).toBe(true);
    expect(posts.some((r) => r.variant === 'whole body: 20,000 nested arrays')).toBe(true);
    expect(posts.some((r) => r.variant === 'whole body: over the body limit')).toBe(true);
  });
});
