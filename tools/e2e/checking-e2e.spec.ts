import { linkResultWithList, seedExecutionResult } from '@purple/checking/testing';
import { FakeSplunk, ServiceProcess, splunkEvent, startServiceProcesses } from '@purple/detection/testing';
import { CHECKING_EXCHANGE, CHECKING_VHOST, ROUTING_KEYS } from '@purple/topology';
import * as amqp from 'amqplib';
import { Client } from 'pg';
import { BrokerNamespace, RoledTestDatabase, createBrokerNamespace, createRoledTestDatabase, eventually } from '@purple/testing';

/**
 * The checking engine end to end, each app in a process of its own as in production, through the real broker and
 * database: Caldera's result goes in as `caldera_publisher`, a verdict comes out, every task with a stored result.
 */
const PIPELINE = ['caldera-consumer', 'dispatcher', 'api-worker', 'agent-worker', 'result-consumer'] as const;
const FINAL = ['detected', 'not_detected', 'error', 'no_detections'];
const SPLUNK_TOKEN = 'e2e-splunk-token-0123456789';

describe('checking engine end to end', () => {
  let broker: BrokerNamespace;
  let db: RoledTestDatabase;
  let sql: Client;
  let splunk: FakeSplunk;
  let publisher: amqp.ChannelModel;
  let channel: amqp.ConfirmChannel;
  const apps: Partial<Record<(typeof PIPELINE)[number], ServiceProcess>> = {};

  beforeAll(async () => {
    [broker, db, splunk] = await Promise.all([createBrokerNamespace(), createRoledTestDatabase(), FakeSplunk.start({ token: SPLUNK_TOKEN })]);
    // the SIEM has the event for the seed's query: splunk detects, the others have no connector here
    splunk.respond = (search) =>
      search.search.includes('user=administrator') ? { events: [splunkEvent(new Date('2024-01-15T10:30:07Z'), '1:42', { user: 'administrator' })] } : { events: [] };
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    const env = {
      ...broker.env(),
      ...db.env(), // each app as its own PostgreSQL role, as provisioned in production
      LOG_LEVEL: 'info',
      SPLUNK_URL: splunk.url,
      SPLUNK_TOKEN,
      DETECTION_INITIAL_DELAY_SECONDS: '0',
      DETECTION_RETRY_INTERVAL_SECONDS: '1',
      DETECTION_WINDOW_AFTER_SECONDS: '2',
      DISPATCH_SWEEP_MS: '1000',
    };
    Object.assign(apps, await startServiceProcesses(PIPELINE, env, 120_000));
    publisher = await amqp.connect(broker.amqpUrl('caldera_publisher', CHECKING_VHOST));
    channel = await publisher.createConfirmChannel();
  }, 180_000);

  afterAll(async () => {
    await publisher?.close().catch(() => undefined);
    await Promise.all(Object.values(apps).map((app) => app?.stop()));
    await sql?.end();
    await splunk?.close();
    await Promise.all([broker?.dispose(), db?.drop()]);
  });

  async function publish(body: unknown, messageId: string, correlationId: string) {
    channel.publish(CHECKING_EXCHANGE, ROUTING_KEYS.executionResult, Buffer.from(JSON.stringify(body)), {
      persistent: true,
      contentType: 'application/json',
      messageId,
      correlationId,
    });
    await channel.waitForConfirms();
  }

  async function finalExecution(operationId: string) {
    return eventually(
      async () => {
        const { rows } = await sql.query(
          `SELECT e.* FROM execution e JOIN operation o ON o.id = e.operation_id WHERE o.caldera_operation_id = $1`,
          [operationId],
        );
        return rows.length === 1 && FINAL.includes(rows[0].verdict) ? rows[0] : null;
      },
      90_000,
      250,
    );
  }

  const tasksOf = async (executionId: string) =>
    (
      await sql.query(
        `SELECT t.platform, t.connector, t.status, r.status AS result_status, r.detected
           FROM detection_task t LEFT JOIN detection_result r ON r.task_id = t.id
          WHERE t.execution_id = $1 ORDER BY t.platform`,
        [executionId],
      )
    ).rows;

  it("takes the seed's example to a final verdict: four tasks, each with a stored result", async () => {
    const correlationId = 'corr-seed-e2e';
    await publish({ ...seedExecutionResult(), operation_id: 'op-e2e-seed' }, 'msg-seed-e2e', correlationId);

    const execution = await finalExecution('op-e2e-seed');
    const tasks = await eventually(async () => {
      const rows = await tasksOf(execution.id);
      return rows.length === 4 && rows.every((t) => t.result_status) ? rows : null;
    });
    expect(tasks.map((t) => [t.platform, t.connector, t.result_status])).toEqual([
      ['edr', 'crowdstrike', 'unsupported'],
      ['linux', 'bash', 'unsupported'],
      ['siem', 'splunk', 'detected'],
      ['windows', 'powershell', 'unsupported'],
    ]);
    expect(execution.verdict).toBe('detected');
    // the matched event's time minus the execution's
    expect(Number(execution.detection_latency_ms)).toBe(7000);
    expect(execution.correlation_id).toBe(correlationId);
    expect(splunk.searches.some((s) => s.search.includes('user=administrator'))).toBe(true);

    // the same correlation id in the log lines of every app the execution went through
    for (const app of PIPELINE) {
      await eventually(async () => apps[app]?.lines().some((line) => line.includes(correlationId)), 10_000);
    }
  });

  it('takes the link_result shape with a list of detections to a verdict, keeping ATT&CK data', async () => {
    const body = linkResultWithList('link-e2e-1');
    (body['operation'] as Record<string, unknown>)['id'] = 'op-e2e-link';
    await publish(body, 'msg-link-e2e', 'corr-link-e2e');
    const execution = await finalExecution('op-e2e-link');
    expect(execution.caldera_link_id).toBe('link-e2e-1');
    expect(execution.technique_id).toMatch(/^T\d{4}/);
    const tasks = await eventually(async () => {
      const rows = await tasksOf(execution.id);
      return rows.length > 0 && rows.every((t) => t.result_status) ? rows : null;
    });
    expect(tasks.length).toBeGreaterThan(0);
  });

  it('leaves one execution when the same message is delivered twice', async () => {
    const body = { ...seedExecutionResult(), operation_id: 'op-e2e-dup' };
    await publish(body, 'msg-dup-e2e', 'corr-dup-1');
    await publish(body, 'msg-dup-e2e', 'corr-dup-2');
    const execution = await finalExecution('op-e2e-dup');
    await new Promise((r) => setTimeout(r, 1000));
    const { rows } = await sql.query(
      `SELECT count(*)::int AS n FROM execution e JOIN operation o ON o.id = e.operation_id WHERE o.caldera_operation_id = 'op-e2e-dup'`,
    );
    expect(rows[0].n).toBe(1);
    expect((await tasksOf(execution.id)).length).toBe(4);
  });

  it('counts the traffic in every app’s /metrics', async () => {
    const scrape = async (app: (typeof PIPELINE)[number]) => (await fetch(`http://127.0.0.1:${apps[app]?.port}/metrics`)).text();
    const value = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
    const consumer = await scrape('caldera-consumer');
    expect(value(consumer, /purple_messages_consumed_total\{queue="caldera\.checking\.instructions"[^}]*\} (\d+)/)).toBeGreaterThanOrEqual(3);
    expect(value(consumer, /purple_messages_acked_total\{queue="caldera\.checking\.instructions"[^}]*\} (\d+)/)).toBeGreaterThanOrEqual(3);
    const dispatcher = await scrape('dispatcher');
    expect(value(dispatcher, /purple_messages_published_total\{exchange="caldera\.checking\.exchange",routing_key="checking\.api\.task"[^}]*\} (\d+)/)).toBeGreaterThanOrEqual(2);
    const results = await scrape('result-consumer');
    expect(value(results, /purple_messages_consumed_total\{queue="caldera\.checking\.api\.responses"[^}]*\} (\d+)/)).toBeGreaterThanOrEqual(2);
    expect(value(results, /purple_verdicts_total\{[^}]*verdict="detected"[^}]*\} (\d+)/)).toBeGreaterThanOrEqual(2);
    expect(value(results, /purple_detection_latency_seconds_count\{[^}]*technique_id="unknown"[^}]*\} (\d+)/)).toBeGreaterThanOrEqual(2);
    const worker = await scrape('api-worker');
    expect(value(worker, /purple_connector_call_duration_seconds_count\{[^}]*platform="siem",connector="splunk",outcome="ok"[^}]*\} (\d+)/)).toBeGreaterThanOrEqual(2);
  });
});
