import { SOAR_EXCHANGES, SOAR_VHOST } from '@purple/topology';
import { Client } from 'pg';
import { ADMIN_ID, ApiHarness, createClient, startHarness } from './support';

const form = (fields: Record<string, string>) => ({
  body: new URLSearchParams(fields).toString(),
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
});
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('api: tokens and the client registry (real broker and database)', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    // the test's own loopback is the "ingress": X-Forwarded-For names the caller
    h = await startHarness({ LOGIN_MAX_FAILURES_PER_CLIENT: '3', LOGIN_MAX_FAILURES_PER_IP: '100', TRUSTED_PROXIES: 'loopback' });
  }, 90_000);
  afterAll(() => h?.close(), 60_000);

  const vhost = () => h.broker.vhost(SOAR_VHOST);
  const management = () => h.broker.management();
  const adminSecret = () => h.env['ADMIN_CLIENT_SECRET'];

  describe('POST /token (client credentials)', () => {
    it('grants a bearer token for a form body, with expires_in, scope and no caching', async () => {
      const reply = await h.api.request('POST', '/token', form({ grant_type: 'client_credentials', client_id: ADMIN_ID, client_secret: adminSecret() }));
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600, scope: 'admin checking:read checking:admin' });
      expect(reply.headers.get('cache-control')).toBe('no-store');
      expect((await h.api.request('GET', '/clients', { token: reply.body.access_token })).status).toBe(200);
    });

    it('grants a token for a JSON body and for HTTP Basic', async () => {
      const json = await h.api.request('POST', '/token', { json: { grant_type: 'client_credentials', client_id: ADMIN_ID, client_secret: adminSecret() } });
      expect(json.status).toBe(200);
      const viaBasic = await h.api.request('POST', '/token', {
        ...form({ grant_type: 'client_credentials' }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(ADMIN_ID, adminSecret()) },
      });
      expect(viaBasic.status).toBe(200);
      expect((await h.api.request('GET', '/clients', { token: viaBasic.body.access_token })).status).toBe(200);
    });

    it('grants a requested subset of the scopes, and refuses scopes the client does not hold', async () => {
      const reader = await h.api.request('POST', '/token', { json: { grant_type: 'client_credentials', client_id: ADMIN_ID, client_secret: adminSecret(), scope: 'checking:read' } });
      expect(reader.body.scope).toBe('checking:read');
      expect((await h.api.request('GET', '/clients', { token: reader.body.access_token })).status).toBe(403);
      const greedy = await h.api.request('POST', '/token', { json: { grant_type: 'client_credentials', client_id: ADMIN_ID, client_secret: adminSecret(), scope: 'bus' } });
      expect(greedy.status).toBe(400);
      expect(greedy.body).toEqual({ error: 'invalid_scope', error_description: 'scope bus is not granted to this client' });
    });

    it('answers RFC 6749 errors: invalid_request, unsupported_grant_type, invalid_client', async () => {
      const missingGrant = await h.api.request('POST', '/token', form({ client_id: ADMIN_ID, client_secret: adminSecret() }));
      expect(missingGrant.status).toBe(400);
      expect(missingGrant.body).toEqual({ error: 'invalid_request', error_description: 'grant_type is required' });

      const password = await h.api.request('POST', '/token', form({ grant_type: 'password', username: 'a', password: 'b' }));
      expect(password.status).toBe(400);
      expect(password.body.error).toBe('unsupported_grant_type');

      const anonymous = await h.api.request('POST', '/token', form({ grant_type: 'client_credentials' }));
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.error).toBe('invalid_client');
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm="purple"/);

      const twoMethods = await h.api.request('POST', '/token', {
        ...form({ grant_type: 'client_credentials', client_secret: adminSecret() }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(ADMIN_ID, adminSecret()) },
      });
      expect(twoMethods.status).toBe(400);
      expect(twoMethods.body.error).toBe('invalid_request');

      const duplicated = await h.api.request('POST', '/token', {
        body: `grant_type=client_credentials&grant_type=client_credentials&client_id=${ADMIN_ID}&client_secret=x`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(duplicated.status).toBe(400);
      expect(duplicated.body.error_description).toBe('grant_type must be given once, as a string');
    });

    it('refuses a wrong secret and an unknown client alike, without saying which', async () => {
      const wrong = await h.api.request('POST', '/token', form({ grant_type: 'client_credentials', client_id: ADMIN_ID, client_secret: 'wrong-secret' }));
      const unknown = await h.api.request('POST', '/token', form({ grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'wrong-secret' }));
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(wrong.body).toEqual(unknown.body);
    });

    it('refuses credentials in the query string with 400, naming the parameter', async () => {
      const token = await h.api.request('POST', `/token?client_secret=${adminSecret()}`, form({ grant_type: 'client_credentials', client_id: ADMIN_ID }));
      expect(token.status).toBe(400);
      expect(token.body.message).toContain('client_secret');
      const bearer = await h.api.request('GET', `/clients?access_token=${h.adminToken}`);
      expect(bearer.status).toBe(400);
      expect(bearer.body.message).toContain('access_token');
    });

    it('refuses guesses at a client id after too many (429 with Retry-After), but never its right secret (issue 12 #7)', async () => {
      const target = await createClient(h.api, h.adminToken, { client_id: 'lockout-target', subscription: 'soar.lockout.#' });
      const bystander = await createClient(h.api, h.adminToken, { client_id: 'lockout-bystander', subscription: 'soar.lockout.#' });
      const guess = (secret: string) => h.api.request('POST', '/token', form({ grant_type: 'client_credentials', client_id: target.id, client_secret: secret }));
      for (let i = 0; i < 3; i++) expect((await guess(`guess-${i}`)).status).toBe(401);
      const locked = await guess('guess-3');
      expect(locked.status).toBe(429);
      expect(locked.body.error_description).toMatch(/too many failed logins/);
      const retryAfter = Number(locked.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(300);
      // the guesser cannot lock the real client out
      expect(await h.api.token(target.id, target.secret)).toEqual(expect.any(String));
      // the limit is per client id: another client logs in as usual
      expect(await h.api.token(bystander.id, bystander.secret)).toEqual(expect.any(String));
    });

    it('counts failures in PostgreSQL (shared by replicas), by the caller a trusted proxy names, never under a malformed id', async () => {
      const db = new Client({ connectionString: h.db.url });
      await db.connect();
      try {
        for (const id of ['proxied-guess', 'Not A Valid Id!', 'x'.repeat(5000)]) {
          const reply = await h.api.request('POST', '/token', {
            ...form({ grant_type: 'client_credentials', client_id: id, client_secret: 'wrong' }),
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '198.51.100.23' },
          });
          expect(reply.status).toBe(401);
        }
        const { rows } = await db.query(`SELECT kind, key, count(*)::int AS n FROM login_failure WHERE key IN ('proxied-guess', '198.51.100.23') GROUP BY kind, key ORDER BY kind`);
        expect(rows).toEqual([
          { kind: 'address', key: '198.51.100.23', n: 3 },
          { kind: 'client', key: 'proxied-guess', n: 1 },
        ]);
        expect((await db.query(`SELECT 1 FROM login_failure WHERE key = ANY($1)`, [['Not A Valid Id!', 'x'.repeat(5000)]])).rows).toEqual([]);
      } finally {
        await db.end();
      }
    });
  });

  describe('bearer tokens on the API', () => {
    it('401 with WWW-Authenticate: Bearer for a missing, malformed or forged token', async () => {
      const missing = await h.api.request('GET', '/clients');
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="purple"');
      expect(missing.body.message).toMatch(/bearer token is required/);

      const garbage = await h.api.request('GET', '/clients', { token: 'garbage' });
      expect(garbage.status).toBe(401);
      expect(garbage.headers.get('www-authenticate')).toContain('error="invalid_token"');

      const [header, payload] = h.adminToken.split('.');
      const forged = await h.api.request('GET', '/clients', { token: `${header}.${payload}.${Buffer.from('x'.repeat(32)).toString('base64url')}` });
      expect(forged.status).toBe(401);
      expect(forged.body.message).toBe('the token signature is invalid');
    });

    it('403 for a token without the scope an endpoint needs', async () => {
      const client = await createClient(h.api, h.adminToken, { client_id: 'scope-probe', subscription: 'soar.probe.#' });
      const listing = await h.api.request('GET', '/clients', { token: client.token });
      expect(listing.status).toBe(403);
      expect(listing.body.message).toMatch(/needs the scope admin/);
      expect(listing.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
      const adminSends = await h.api.request('POST', '/send', { token: h.adminToken, json: { topic: 'soar.x', message: 1 } });
      expect(adminSends.status).toBe(403);
    });
  });

  describe('clients', () => {
    it('creates a client with its queues and bindings, and shows its secret only once', async () => {
      const reply = await h.api.request('POST', '/clients', {
        token: h.adminToken,
        json: { client_id: 'noc-sfmc', client_name: 'NOC SFMC', subscription: 'soar.noc.slocum.*' },
      });
      expect(reply.status).toBe(201);
      expect(reply.body).toMatchObject({
        client_id: 'noc-sfmc',
        client_name: 'NOC SFMC',
        subscription: 'soar.noc.slocum.*',
        webhook_url: null,
        scopes: ['bus'],
        client_secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      });
      expect(reply.body.webhook_secret).toBeUndefined();

      const queues = await Promise.all(['outbox', 'broadcast', 'inbox', 'dlq'].map((q) => management().getQueue(vhost(), `noc-sfmc-${q}`)));
      expect(queues.map((q) => q?.type)).toEqual(['quorum', 'quorum', 'quorum', 'quorum']);
      const bindings = (await management().listBindings(vhost())).filter((b) => b.destination.startsWith('noc-sfmc-'));
      expect(bindings.map((b) => `${b.source}:${b.routing_key}->${b.destination}`).sort()).toEqual(
        [
          'soar-send:noc-sfmc->noc-sfmc-outbox',
          'soar-notify:noc-sfmc->noc-sfmc-broadcast',
          'soar-publish:soar.noc.slocum.*->noc-sfmc-inbox',
          'soar-broadcast:->noc-sfmc-inbox',
          'soar-direct:noc-sfmc->noc-sfmc-inbox',
          'soar-dlx:noc-sfmc->noc-sfmc-dlq',
          // every queue is bound to the default exchange by its name
          ':noc-sfmc-outbox->noc-sfmc-outbox',
          ':noc-sfmc-broadcast->noc-sfmc-broadcast',
          ':noc-sfmc-inbox->noc-sfmc-inbox',
          ':noc-sfmc-dlq->noc-sfmc-dlq',
        ].sort(),
      );

      const secret = reply.body.client_secret as string;
      const read = await h.api.request('GET', '/clients/noc-sfmc', { token: h.adminToken });
      const list = await h.api.request('GET', '/clients', { token: h.adminToken });
      for (const shown of [read, list]) {
        expect(JSON.stringify(shown.body)).not.toContain(secret);
        expect(JSON.stringify(shown.body)).not.toMatch(/secret/);
      }
      expect(list.body.map((c: { client_id: string }) => c.client_id)).toEqual(expect.arrayContaining([ADMIN_ID, 'noc-sfmc']));

      // stored only as a slow hash
      const db = new Client({ connectionString: h.db.url });
      await db.connect();
      try {
        const { rows } = await db.query('SELECT secret_hash FROM bus_client WHERE client_id = $1', ['noc-sfmc']);
        expect(rows[0].secret_hash).toMatch(/^scrypt\$/);
        expect(rows[0].secret_hash).not.toContain(secret);
      } finally {
        await db.end();
      }
    });

    it('issues a Standard Webhooks secret for a webhook URL, stored encrypted', async () => {
      const reply = await h.api.request('POST', '/clients', {
        token: h.adminToken,
        json: { client_id: 'hooked', client_name: 'Hooked', subscription: 'soar.#', webhook_url: 'http://127.0.0.1:9/hook' },
      });
      expect(reply.status).toBe(201);
      expect(reply.body.webhook_url).toBe('http://127.0.0.1:9/hook');
      expect(reply.body.webhook_secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      const db = new Client({ connectionString: h.db.url });
      await db.connect();
      try {
        const { rows } = await db.query('SELECT webhook_secret_ciphertext FROM bus_client WHERE client_id = $1', ['hooked']);
        expect(rows[0].webhook_secret_ciphertext).toMatch(/^v2\./);
        expect(rows[0].webhook_secret_ciphertext).not.toContain(reply.body.webhook_secret.slice(6));
      } finally {
        await db.end();
      }
    });

    it('refuses bad registrations with 400 naming the field, and a taken id with 409', async () => {
      const post = (json: Record<string, unknown>) => h.api.request('POST', '/clients', { token: h.adminToken, json });
      const valid = { client_id: 'fine-id', client_name: 'Fine', subscription: 'soar.#' };
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{ ...valid, client_id: 'Bad_ID' }, /client_id must be 1-63 lowercase/],
        [{ ...valid, client_id: 42 }, /client_id/],
        [{ ...valid, subscription: 'soar..noc' }, /subscription must be a topic pattern/],
        [{ ...valid, subscription: 'soar.no#c' }, /subscription must be a topic pattern/],
        [{ ...valid, subscription: undefined }, /subscription is required/],
        [{ ...valid, client_name: '' }, /client_name/],
        [{ ...valid, secret: 'mine' }, /property secret should not exist/],
        [{ ...valid, scopes: ['root'] }, /scopes/],
        [{ ...valid, webhook_url: 'ftp://example.org/x' }, /webhook_url: webhook URL must use http or https/],
        [{ ...valid, webhook_url: 'not a url' }, /webhook_url: webhook URL is not a valid absolute URL/],
        [{ ...valid, webhook_url: 'http://10.1.2.3/hook' }, /webhook_url: .*private.*allowlist/],
        [{ ...valid, webhook_url: 'http://[::1]/hook' }, /webhook_url: .*loopback/],
      ];
      for (const [body, reason] of cases) {
        const reply = await post(body);
        expect({ body, status: reply.status }).toEqual({ body, status: 400 });
        expect(JSON.stringify(reply.body.message)).toMatch(reason);
      }
      expect(await management().getQueue(vhost(), 'fine-id-inbox')).toBeUndefined();

      expect((await post({ ...valid, client_id: 'noc-sfmc' })).status).toBe(409);
      expect((await post({ ...valid, client_id: ADMIN_ID })).status).toBe(409);
    });

    it('creates a checking-engine reader without queues', async () => {
      const reply = await h.api.request('POST', '/clients', {
        token: h.adminToken,
        json: { client_id: 'dashboard', client_name: 'Dashboard', scopes: ['checking:read'] },
      });
      expect(reply.status).toBe(201);
      expect(reply.body).toMatchObject({ subscription: null, scopes: ['checking:read'] });
      expect(await management().getQueue(vhost(), 'dashboard-inbox')).toBeUndefined();
      const token = await h.api.token('dashboard', reply.body.client_secret);
      expect((await h.api.request('GET', '/receive', { token })).status).toBe(403);
    });

    it('lets a client read its own record, but not another client’s (403) nor the list', async () => {
      const self = await createClient(h.api, h.adminToken, { client_id: 'self-reader', subscription: 'soar.self.#' });
      const own = await h.api.request('GET', '/clients/self-reader', { token: self.token });
      expect(own.status).toBe(200);
      expect(own.body.client_id).toBe('self-reader');
      expect((await h.api.request('GET', '/clients/noc-sfmc', { token: self.token })).status).toBe(403);
      expect((await h.api.request('GET', '/clients/does-not-exist', { token: self.token })).status).toBe(403);
      expect((await h.api.request('GET', '/clients/does-not-exist', { token: h.adminToken })).status).toBe(404);
      expect((await h.api.request('GET', '/clients/Not_An_Id', { token: h.adminToken })).status).toBe(400);
      expect((await h.api.request('PATCH', '/clients/self-reader', { token: self.token, json: { client_name: 'x' } })).status).toBe(403);
    });

    it('rebinds the inbox when the subscription changes, and replaces the webhook secret with the URL', async () => {
      await createClient(h.api, h.adminToken, { client_id: 'mover', subscription: 'soar.old.#' });
      const moved = await h.api.request('PATCH', '/clients/mover', { token: h.adminToken, json: { subscription: 'soar.new.*', client_name: 'Mover' } });
      expect(moved.status).toBe(200);
      expect(moved.body).toMatchObject({ subscription: 'soar.new.*', client_name: 'Mover' });
      const publishBindings = await management().getBindings(vhost(), SOAR_EXCHANGES.publish, 'mover-inbox');
      expect(publishBindings.map((b) => b.routing_key)).toEqual(['soar.new.*']);

      const hooked = await h.api.request('PATCH', '/clients/mover', { token: h.adminToken, json: { webhook_url: 'http://127.0.0.1:9/a' } });
      expect(hooked.body).toMatchObject({ webhook_url: 'http://127.0.0.1:9/a', webhook_enabled: true, webhook_secret: expect.stringMatching(/^whsec_/) });
      const rehooked = await h.api.request('PATCH', '/clients/mover', { token: h.adminToken, json: { webhook_url: 'http://127.0.0.1:9/b' } });
      expect(rehooked.body.webhook_secret).toMatch(/^whsec_/);
      expect(rehooked.body.webhook_secret).not.toBe(hooked.body.webhook_secret);
      const disabled = await h.api.request('PATCH', '/clients/mover', { token: h.adminToken, json: { webhook_enabled: false } });
      expect(disabled.body).toMatchObject({ webhook_enabled: false });
      expect(disabled.body.webhook_secret).toBeUndefined();
      const unhooked = await h.api.request('PATCH', '/clients/mover', { token: h.adminToken, json: { webhook_url: null } });
      expect(unhooked.body.webhook_url).toBeNull();

      expect((await h.api.request('PATCH', '/clients/mover', { token: h.adminToken, json: {} })).status).toBe(400);
      expect((await h.api.request('PATCH', '/clients/mover', { token: h.adminToken, json: { subscription: 'a..b' } })).status).toBe(400);
      expect((await h.api.request('PATCH', '/clients/mover', { token: h.adminToken, json: { client_name: null } })).status).toBe(400);
      expect((await h.api.request('PATCH', '/clients/mover', { token: h.adminToken, json: { webhook_url: 'http://192.168.1.1/' } })).status).toBe(400);
      expect((await h.api.request('PATCH', '/clients/nobody', { token: h.adminToken, json: { client_name: 'x' } })).status).toBe(404);
    });

    it('rotates a secret: the old secret and the old token stop working at once', async () => {
      const client = await createClient(h.api, h.adminToken, { client_id: 'rotator', subscription: 'soar.rot.#' });
      expect((await h.api.request('GET', '/receive', { token: client.token })).status).toBe(200);
      const rotated = await h.api.request('POST', '/clients/rotator/secret', { token: h.adminToken });
      expect(rotated.status).toBe(200);
      expect(rotated.body).toEqual({ client_id: 'rotator', client_secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });

      const oldToken = await h.api.request('GET', '/receive', { token: client.token });
      expect(oldToken.status).toBe(401);
      expect(oldToken.body.message).toBe('the token has been revoked');
      const oldSecret = await h.api.request('POST', '/token', form({ grant_type: 'client_credentials', client_id: 'rotator', client_secret: client.secret }));
      expect(oldSecret.status).toBe(401);
      const fresh = await h.api.token('rotator', rotated.body.client_secret);
      expect((await h.api.request('GET', '/receive', { token: fresh })).status).toBe(200);

      expect((await h.api.request('POST', '/clients/nobody/secret', { token: h.adminToken })).status).toBe(404);
      expect((await h.api.request('POST', `/clients/${ADMIN_ID}/secret`, { token: h.adminToken })).status).toBe(409);
    });

    it('deletes a client: its queues go and its token stops working at once', async () => {
      const client = await createClient(h.api, h.adminToken, { client_id: 'leaver', subscription: 'soar.leave.#' });
      expect((await h.api.request('GET', '/receive', { token: client.token })).status).toBe(200);
      expect((await h.api.request('DELETE', '/clients/leaver', { token: h.adminToken })).status).toBe(204);

      const after = await h.api.request('GET', '/receive', { token: client.token });
      expect(after.status).toBe(401);
      expect(after.body.message).toBe('the token has been revoked');
      for (const q of ['outbox', 'broadcast', 'inbox', 'dlq']) expect(await management().getQueue(vhost(), `leaver-${q}`)).toBeUndefined();
      expect((await h.api.request('GET', '/clients/leaver', { token: h.adminToken })).status).toBe(404);
      expect((await h.api.request('DELETE', '/clients/leaver', { token: h.adminToken })).status).toBe(404);
      const admin = await h.api.request('DELETE', `/clients/${ADMIN_ID}`, { token: h.adminToken });
      expect(admin.status).toBe(409);
      expect(admin.body.message).toMatch(/configured admin/);
    });

    it('does not revive an old token when a deleted client id is created again (issue 12 #5)', async () => {
      const first = await createClient(h.api, h.adminToken, { client_id: 'phoenix', subscription: 'soar.phoenix.#' });
      expect((await h.api.request('DELETE', '/clients/phoenix', { token: h.adminToken })).status).toBe(204);
      // same id, same (reset) token version: only the incarnation differs
      const second = await createClient(h.api, h.adminToken, { client_id: 'phoenix', subscription: 'soar.phoenix.#' });
      const stale = await h.api.request('GET', '/receive', { token: first.token });
      expect(stale.status).toBe(401);
      expect(stale.body.message).toBe('the token has been revoked');
      expect((await h.api.request('GET', '/receive', { token: second.token })).status).toBe(200);
    });
  });

  it('documents every endpoint in the OpenAPI document, with bearer auth', async () => {
    const doc = await h.api.request('GET', '/docs-json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths).sort()).toEqual(
      expect.arrayContaining([
        '/token',
        '/clients',
        '/clients/{id}',
        '/clients/{id}/secret',
        '/clients/{id}/dead-letters',
        '/clients/{id}/dead-letters/replay',
        '/send',
        '/notify',
        '/receive',
      ]),
    );
    expect(doc.body.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.body.paths['/send'].post.security).toEqual([{ bearer: [] }]);
    expect(doc.body.paths['/send'].post.requestBody.content['application/json'].schema.$ref).toMatch(/SendRequestDoc/);
  });
});
