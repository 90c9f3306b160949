import {
  elasticAlert,
  falconAlert,
  FakeCalderaAgent,
  FakeCrowdStrike,
  FakeElastic,
  FakeHttpProduct,
  FakeSentinel,
  FakeSplunk,
  ServiceProcess,
  splunkEvent,
  startServiceProcesses,
} from '@purple/detection/testing';
import { CHECKING_EXCHANGE, CHECKING_VHOST, ROUTING_KEYS } from '@purple/topology';
import { BrokerNamespace, RoledTestDatabase, createBrokerNamespace, createRoledTestDatabase, eventually } from '@purple/testing';
import * as amqp from 'amqplib';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

/**
 * Every connector and executor end to end: one Caldera result whose ability carries a detection for each of them
 * goes through the real broker and the five pipeline apps (each a process of its own); every task's stored result
 * must come from the real connector code talking to its product's local test server, with that server's evidence.
 */
const PIPELINE = ['caldera-consumer', 'dispatcher', 'api-worker', 'agent-worker', 'result-consumer'] as const;
const OPERATION_ID = 'op-connectors-e2e';
const LINK_ID = 'link-e2e-7f3a';
const HOST = 'web-01.lab';
const PAW = 'paw-e2e-01';
const TENANT_ID = '8f0c6a52-3b1e-4d2a-9c4f-0e1d2c3b4a59';
const WORKSPACE_ID = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';
const SECRETS = {
  splunkToken: 'e2e-splunk-token-4b1d',
  elasticKey: 'ZTJlLWVsYXN0aWMta2V5',
  falconSecret: 'e2e-falcon-secret-91c2',
  sentinelSecret: 'e2e-sentinel-secret-5d7e',
  edrKey: 'e2e-edr-key-0a9f',
  calderaKey: 'e2e-caldera-key-33c8',
};

interface StoredResult {
  connector: string;
  detection_type: string;
  status: string;
  result_status: string;
  detected: boolean;
  events_found: number;
  evidence: Array<{ id?: string; link?: string; event_time?: string }>;
  raw_output: string | null;
  error: string | null;
}

describe('every connector and executor end to end', () => {
  let broker: BrokerNamespace;
  let db: RoledTestDatabase;
  let sql: Client;
  let workDir: string;
  let publisher: amqp.ChannelModel;
  const apps: Partial<Record<(typeof PIPELINE)[number], ServiceProcess>> = {};
  let splunk: FakeSplunk;
  let elastic: FakeElastic;
  let falcon: FakeCrowdStrike;
  let sentinel: FakeSentinel;
  let edr: FakeHttpProduct;
  let caldera: FakeCalderaAgent;
  const matchedAt = new Date(Date.now() - 5_000);

  beforeAll(async () => {
    [broker, db, splunk, elastic, falcon, sentinel, edr, caldera] = await Promise.all([
      createBrokerNamespace(),
      createRoledTestDatabase(),
      FakeSplunk.start({ token: SECRETS.splunkToken }),
      FakeElastic.start({ apiKey: SECRETS.elasticKey }),
      FakeCrowdStrike.start({ clientId: 'falcon-client', clientSecret: SECRETS.falconSecret }),
      FakeSentinel.start({ tenantId: TENANT_ID, clientId: 'sentinel-client', clientSecret: SECRETS.sentinelSecret, workspaceId: WORKSPACE_ID }),
      FakeHttpProduct.start({ apiKey: SECRETS.edrKey }),
      FakeCalderaAgent.start({
        apiKey: SECRETS.calderaKey,
        operationId: OPERATION_ID,
        agents: [{ paw: PAW, host: HOST, platform: 'linux', executors: ['sh'] }],
      }),
    ]);
    // each product finds the execution only when the query names its host or marker: the match proves the template
    splunk.respond = (search) => ({ events: search.search.includes(`host="${HOST}"`) ? [splunkEvent(matchedAt, 'splunk:1')] : [] });
    elastic.respond = (search) => ({ documents: JSON.stringify(search.body).includes(HOST) ? [elasticAlert('elastic-alert-1', matchedAt)] : [] });
    falcon.respond = (query) => (query.filter.includes(HOST) ? [falconAlert('falcon:alert:1', matchedAt)] : []);
    sentinel.respond = (query) =>
      query.query.includes(HOST)
        ? { columns: [{ name: 'TimeGenerated', type: 'datetime' }, { name: 'SystemAlertId', type: 'string' }], rows: [[matchedAt.toISOString(), 'sentinel-alert-1']] }
        : { columns: [], rows: [] };
    edr.respond = (request) => ({ items: request.body.includes(HOST) ? [{ alert_id: 'edr-alert-1', detected_at: matchedAt.toISOString() }] : [] });
    caldera.run = { pendingPolls: 1, stdout: `${LINK_ID} seen in auth.log\n`, stderr: '', exitCode: '0', resultFormat: 'json' };

    // the worker's own host has the marker in a log file the local executor may grep
    workDir = mkdtempSync(join(tmpdir(), 'purple-e2e-'));
    // a root worker runs local commands as LOCAL_EXECUTOR_USER (nobody): the log must be readable to it
    chmodSync(workDir, 0o755);
    writeFileSync(join(workDir, 'auth.log'), `Jan 10 sshd[1]: accepted\nJan 10 sudo: ${LINK_ID}\n`, { mode: 0o644 });

    sql = new Client({ connectionString: db.url });
    await sql.connect();
    const env = {
      ...broker.env(),
      ...db.env(), // each app as its own PostgreSQL role, as provisioned in production
      LOG_LEVEL: 'info',
      DETECTION_INITIAL_DELAY_SECONDS: '0',
      DETECTION_RETRY_INTERVAL_SECONDS: '1',
      DETECTION_WINDOW_AFTER_SECONDS: '3',
      DISPATCH_SWEEP_MS: '1000',
      SPLUNK_URL: splunk.url,
      SPLUNK_TOKEN: SECRETS.splunkToken,
      ELASTICSEARCH_URL: elastic.server.url,
      ELASTICSEARCH_API_KEY: SECRETS.elasticKey,
      CROWDSTRIKE_BASE_URL: falcon.url,
      CROWDSTRIKE_CLIENT_ID: 'falcon-client',
      CROWDSTRIKE_CLIENT_SECRET: SECRETS.falconSecret,
      SENTINEL_TENANT_ID: TENANT_ID,
      SENTINEL_CLIENT_ID: 'sentinel-client',
      SENTINEL_CLIENT_SECRET: SECRETS.sentinelSecret,
      SENTINEL_WORKSPACE_ID: WORKSPACE_ID,
      SENTINEL_AUTHORITY_URL: sentinel.url,
      SENTINEL_API_URL: sentinel.url,
      EDR_API_KEY: SECRETS.edrKey,
      HTTP_CONNECTOR_TARGETS: JSON.stringify({ edr: { url: edr.searchUrl, method: 'POST', headers: { 'X-Api-Key': '${EDR_API_KEY}' } } }),
      CALDERA_URL: caldera.url,
      CALDERA_API_KEY: SECRETS.calderaKey,
      CALDERA_POLL_INTERVAL_MS: '100',
      LOCAL_EXECUTOR_ALLOWLIST: '/usr/bin/grep',
    };
    Object.assign(apps, await startServiceProcesses(PIPELINE, env, 120_000));
    publisher = await amqp.connect(broker.amqpUrl('caldera_publisher', CHECKING_VHOST));
  }, 240_000);

  afterAll(async () => {
    await publisher?.close().catch(() => undefined);
    await Promise.all(Object.values(apps).map((app) => app?.stop()));
    await sql?.end();
    await Promise.all([splunk, elastic, falcon, sentinel, edr, caldera].map((fake) => fake?.close()));
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    await Promise.all([broker?.dispose(), db?.drop()]);
  });

  function detection(type: 'api' | 'agent', platform: string, config: Record<string, unknown>) {
    return { detection_type: type, detection_platform: platform, detection_config: config, max_retries: 0 };
  }

  it('answers a task for each platform with a result from its connector’s own test server', async () => {
    const body = {
      message_type: 'link_result',
      timestamp: new Date().toISOString(),
      operation: { id: OPERATION_ID, name: 'connectors e2e', start: new Date(Date.now() - 60_000).toISOString() },
      execution: {
        link_id: LINK_ID,
        agent_host: HOST,
        agent_paw: PAW,
        command: 'whoami',
        status: 0,
        state: 'SUCCESS',
        result_data: '{"stdout": "root", "stderr": "", "exit_code": 0}',
        agent_reported_time: new Date(Date.now() - 10_000).toISOString(),
        technique_id: 'T1033',
        technique_name: 'System Owner/User Discovery',
        tactic: 'discovery',
        detections: [
          detection('api', 'siem', { connector: 'splunk', query: 'index=main host={{host}} EventCode=4688' }),
          detection('api', 'siem', { connector: 'elasticsearch', query: 'host.name:{{host}} AND process.name:whoami' }),
          detection('api', 'edr', { connector: 'crowdstrike', query: 'device.hostname:{{host}}' }),
          detection('api', 'siem', { connector: 'sentinel', query: 'SecurityEvent | where Computer == {{host}}' }),
          detection('api', 'edr', { connector: 'http', target: 'edr', query: '{"hostname": {{host}}}', match_path: '$.data[*]', id_path: '$.alert_id', time_path: '$.detected_at' }),
          detection('agent', 'linux', { connector: 'caldera', command: 'grep -c {{marker}} /var/log/auth.log', match: { output_matches: 'seen' } }),
          detection('agent', 'linux', { connector: 'local', command: `/usr/bin/grep {{marker}} ${join(workDir, 'auth.log')}`, match: { exit_code: 0 } }),
        ],
      },
    };
    const channel = await publisher.createConfirmChannel();
    channel.publish(CHECKING_EXCHANGE, ROUTING_KEYS.executionResult, Buffer.from(JSON.stringify(body)), {
      persistent: true,
      contentType: 'application/json',
      messageId: 'msg-connectors-e2e',
      correlationId: 'corr-connectors-e2e',
    });
    await channel.waitForConfirms();

    const results = await eventually(
      async () => {
        const { rows } = await sql.query<StoredResult>(
          `SELECT t.connector, t.detection_type, t.status, r.status AS result_status, r.detected, r.events_found, r.evidence, r.error, r.response->'results'->>'raw_output' AS raw_output
             FROM detection_task t
             JOIN execution e ON e.id = t.execution_id
             LEFT JOIN detection_result r ON r.task_id = t.id
            WHERE e.caldera_link_id = $1
            ORDER BY t.connector`,
          [LINK_ID],
        );
        if (rows.length === 7 && rows.every((row) => row.result_status)) return rows;
        // what is still missing, for the failure message
        throw new Error(JSON.stringify(rows.map((row) => [row.connector, row.status, row.result_status, row.error])));
      },
      90_000,
      500,
    );

    const byConnector = Object.fromEntries(results.map((row) => [row.connector, row]));
    expect(results.map((row) => [row.connector, row.result_status])).toEqual([
      ['caldera', 'detected'],
      ['crowdstrike', 'detected'],
      ['elasticsearch', 'detected'],
      ['http', 'detected'],
      ['local', 'detected'],
      ['sentinel', 'detected'],
      ['splunk', 'detected'],
    ]);
    // the evidence each product's server gave
    expect(byConnector['splunk'].evidence[0]).toMatchObject({ id: 'splunk:1', event_time: matchedAt.toISOString() });
    expect(byConnector['elasticsearch'].evidence[0]).toMatchObject({ id: 'elastic-alert-1' });
    expect(byConnector['crowdstrike'].evidence[0]).toMatchObject({ id: 'falcon:alert:1' });
    expect(byConnector['sentinel'].evidence[0]).toMatchObject({ id: 'sentinel-alert-1', event_time: matchedAt.toISOString() });
    expect(byConnector['http'].evidence[0]).toMatchObject({ id: 'edr-alert-1', event_time: matchedAt.toISOString() });
    expect(byConnector['caldera'].raw_output).toContain(`${LINK_ID} seen in auth.log`);
    expect(byConnector['local'].raw_output).toContain(`sudo: ${LINK_ID}`);

    // each server was really asked, with the execution's host or marker in the request
    expect(splunk.searches.some((s) => s.search.includes(`host="${HOST}"`))).toBe(true);
    expect(elastic.searches.length).toBeGreaterThan(0);
    expect(falcon.queryRequests.length).toBeGreaterThan(0);
    expect(sentinel.server.requests.some((r) => r.path === `/v1/workspaces/${WORKSPACE_ID}/query`)).toBe(true);
    expect(edr.searches.length).toBeGreaterThan(0);
    expect(caldera.linkRequests).toEqual([expect.objectContaining({ paw: PAW, executor: expect.objectContaining({ command: `grep -c '${LINK_ID}' /var/log/auth.log` }) })]);

    const { rows } = await sql.query(`SELECT verdict FROM execution WHERE caldera_link_id = $1`, [LINK_ID]);
    expect(rows[0].verdict).toBe('detected');

    // no credential in any stored result or in any app's log
    const stored = JSON.stringify(results);
    const logs = PIPELINE.map((app) => apps[app]?.lines().join('\n')).join('\n');
    for (const secret of Object.values(SECRETS)) {
      expect(stored).not.toContain(secret);
      expect(logs).not.toContain(secret);
    }
  }, 150_000);
});
