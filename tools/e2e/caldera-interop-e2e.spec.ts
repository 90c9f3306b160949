import { referenceDetections, referenceLinkResult } from '@purple/contracts/testing';
import { FakeCalderaAgent, FakeSplunk, ServiceProcess, splunkEvent, startServiceProcesses } from '@purple/detection/testing';
import { BrokerNamespace, RoledTestDatabase, createBrokerNamespace, createRoledTestDatabase, eventually } from '@purple/testing';
import { CHECKING_EXCHANGE, CHECKING_VHOST, ROUTING_KEYS } from '@purple/topology';
import * as amqp from 'amqplib';
import { randomBytes } from 'node:crypto';

/**
 * What the reference patched Caldera really sends, end to end: its list form with one detection of each type (api,
 * windows, linux, darwin), one for a product without a connector and one unusable entry, published as
 * `caldera_publisher`, through the five pipeline apps and read back over the HTTP API, each app a process of its own.
 */
const APPS = ['caldera-consumer', 'dispatcher', 'api-worker', 'agent-worker', 'result-consumer', 'api'] as const;
const OPERATION_ID = 'op-uuid-12345';
const PAW = 'agent-paw-abc123';
const FINAL = ['detected', 'not_detected', 'error', 'no_detections', 'no_usable_detections'];
/** response bodies are read loosely: the test states the shape it expects */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const SECRETS = { splunk: 'interop-splunk-token-5e1f', caldera: 'interop-caldera-key-7a2b', admin: randomBytes(18).toString('base64url') };

/** The reference publisher's detections, with search windows short enough for a test and no long jitter. */
function quickDetections(): Array<Record<string, unknown>> {
  const detections = referenceDetections().map((entry) => {
    const config = entry['detection_config'] as Record<string, unknown>;
    return { ...entry, detection_config: { ...config, timeout: 20, delay: 0, jitter: 1, after_reported_time: 2 } };
  });
  return [...detections, { detection_type: 'mainframe', detection_platform: 'jcl', detection_config: { command: '//STEP1 EXEC' } }];
}

describe("the reference patched Caldera's list form end to end", () => {
  let broker: BrokerNamespace;
  let db: RoledTestDatabase;
  let splunk: FakeSplunk;
  let caldera: FakeCalderaAgent;
  let publisher: amqp.ChannelModel;
  let apiUrl: string;
  const apps: Partial<Record<(typeof APPS)[number], ServiceProcess>> = {};

  beforeAll(async () => {
    [broker, db, splunk, caldera] = await Promise.all([
      createBrokerNamespace(),
      createRoledTestDatabase(),
      FakeSplunk.start({ token: SECRETS.splunk }),
      FakeCalderaAgent.start({
        apiKey: SECRETS.caldera,
        operationId: OPERATION_ID,
        agents: [{ paw: PAW, host: 'target-machine.local', platform: 'windows', executors: ['psh', 'sh'] }],
      }),
    ]);
    splunk.respond = (search) => ({ events: search.search.includes('user=administrator') ? [splunkEvent(new Date(), 'splunk:4624')] : [] });
    caldera.run = { pendingPolls: 0, stdout: 'Accepted publickey for administrator\n', stderr: '', exitCode: '0', resultFormat: 'json' };
    const env = {
      ...broker.env(),
      ...db.env(), // each app as its own PostgreSQL role, as provisioned in production
      LOG_LEVEL: 'info',
      DETECTION_RETRY_INTERVAL_SECONDS: '1',
      DISPATCH_SWEEP_MS: '1000',
      SPLUNK_URL: splunk.url,
      SPLUNK_TOKEN: SECRETS.splunk,
      CALDERA_URL: caldera.url,
      CALDERA_API_KEY: SECRETS.caldera,
      CALDERA_POLL_INTERVAL_MS: '100',
      RABBITMQ_MANAGEMENT_URL: broker.settings.managementUrl,
      TOKEN_SIGNING_KEY: randomBytes(32).toString('hex'),
      ADMIN_CLIENT_ID: 'admin',
      ADMIN_CLIENT_SECRET: SECRETS.admin,
      WEBHOOK_SECRET_KEY: randomBytes(24).toString('hex'),
    };
    Object.assign(apps, await startServiceProcesses(APPS, env, 180_000));
    apiUrl = `http://127.0.0.1:${apps.api?.port}`;
    publisher = await amqp.connect(broker.amqpUrl('caldera_publisher', CHECKING_VHOST));
  }, 240_000);

  afterAll(async () => {
    await publisher?.close().catch(() => undefined);
    await Promise.all(Object.values(apps).map((app) => app?.stop()));
    await Promise.all([splunk?.close(), caldera?.close()]);
    await Promise.all([broker?.dispose(), db?.drop()]);
  });

  async function request(path: string, token: string, init: RequestInit = {}) {
    const res = await fetch(apiUrl + path, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
    return { status: res.status, body: (await res.json()) as Json };
  }

  async function token(clientId: string, secret: string): Promise<string> {
    const res = await fetch(`${apiUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }).toString(),
    });
    return res.status === 200 ? ((await res.json()) as { access_token: string }).access_token : '';
  }

  it('stores one execution with every task, the unusable entry rejected with its reason, a final verdict and no dead letter', async () => {
    // a checking:read client, as a purple team's dashboard would have
    const adminToken = await eventually(async () => (await token('admin', SECRETS.admin)) || null, 30_000, 250);
    const created = await request('/clients', adminToken, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'purple-dashboard', client_name: 'dashboard', scopes: ['checking:read'] }),
    });
    expect(created.status).toBe(201);
    const reader = await token('purple-dashboard', created.body.client_secret);

    const channel = await publisher.createConfirmChannel();
    const body = referenceLinkResult(quickDetections());
    channel.publish(CHECKING_EXCHANGE, ROUTING_KEYS.executionResult, Buffer.from(JSON.stringify(body)), {
      persistent: true,
      contentType: 'application/json',
      messageId: 'reference-link-1',
    });
    await channel.waitForConfirms();

    const execution: Json = await eventually(
      async () => {
        const page = await request(`/checking/executions?operation_id=${OPERATION_ID}`, reader);
        const item = page.body.items?.[0];
        if (!item || !FINAL.includes(item.verdict)) return null;
        const detail = await request(`/checking/executions/${item.id}`, reader);
        // every task that could run has its answer
        return detail.body.tasks.every((t: { status: string; result: unknown }) => t.status === 'rejected' || t.result) ? detail.body : null;
      },
      90_000,
      500,
    );

    expect(execution).toMatchObject({ operation_id: OPERATION_ID, caldera_link_id: 'link-uuid-67890', agent_paw: PAW, verdict: 'detected' });
    const tasks = execution.tasks.map((t: Json) => [t.detection_type, t.platform, t.host_os, t.connector, t.status, t.result?.status ?? null]);
    expect(tasks).toEqual([
      ['api', 'splunk', null, 'splunk', 'completed', 'detected'],
      ['agent', 'windows', 'windows', 'psh', 'completed', 'detected'],
      ['agent', 'linux', 'linux', 'sh', 'completed', 'detected'],
      ['agent', 'darwin', 'darwin', 'sh', 'completed', 'detected'],
      ['api', 'cym', null, 'cym', expect.any(String), 'unsupported'],
      [null, 'jcl', null, '', 'rejected', null],
    ]);
    expect(execution.tasks[4].result.error).toContain('"cym"');
    expect(execution.tasks[5].rejection_reason).toBe(
      'detections[5].detection_type must be one of the following values: api, agent, windows, linux, darwin',
    );
    // each agent check ran on Caldera's executor it named
    expect(caldera.linkRequests.map((r) => r.executor.name).sort()).toEqual(['psh', 'sh', 'sh']);

    const deadLetters = await request('/checking/dead-letters', reader);
    expect(deadLetters.status).toBe(200);
    expect(deadLetters.body.total ?? deadLetters.body.items.length).toBe(0);
  });
});
