import { GetSourceMatrix, PurpleReadRepository } from '@purple/checking';
import { FakeCrowdStrike, FakeSplunk, ServiceProcess, falconAlert, splunkEvent, startServiceProcesses } from '@purple/detection/testing';
import { dataSourceOptions } from '@purple/persistence';
import { BrokerNamespace, RoledTestDatabase, createBrokerNamespace, createRoledTestDatabase, eventually } from '@purple/testing';
import { CHECKING_EXCHANGE, CHECKING_VHOST, ROUTING_KEYS } from '@purple/topology';
import * as amqp from 'amqplib';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';

/**
 * Issue 15 end to end, each app a process of its own, through the real broker and database, with the Splunk and
 * CrowdStrike connectors talking to their local test servers: match quality, a late detection on a re-check,
 * two sources disagreeing in the matrix, a regression between two runs failing the CLI, and a learned delay.
 */
const PIPELINE = ['caldera-consumer', 'dispatcher', 'api-worker', 'agent-worker', 'result-consumer'] as const;
const HOST = 'ws-17.lab';
const SPLUNK_TOKEN = 'e2e-splunk-token-purple-15';
const FALCON_SECRET = 'e2e-falcon-secret-purple-15';
const LEARNED_MAX_SECONDS = 2;

describe('purple-team workflow end to end (issue 15)', () => {
  let broker: BrokerNamespace;
  let db: RoledTestDatabase;
  let sql: Client;
  let typeorm: DataSource;
  let splunk: FakeSplunk;
  let falcon: FakeCrowdStrike;
  let channel: amqp.ConfirmChannel;
  let publisher: amqp.ChannelModel;
  const apps: Partial<Record<(typeof PIPELINE)[number], ServiceProcess>> = {};
  /** markers Splunk has an event for, with the marker in the event; and those it finds only later */
  const splunkHasMarker = new Set<string>();
  const splunkHasHost = new Set<string>();
  const falconHasHost = new Map<string, Record<string, unknown>>();
  const eventAt = () => new Date(Date.now() - 5_000);

  beforeAll(async () => {
    [broker, db, splunk, falcon] = await Promise.all([
      createBrokerNamespace(),
      createRoledTestDatabase(),
      FakeSplunk.start({ token: SPLUNK_TOKEN }),
      FakeCrowdStrike.start({ clientId: 'falcon-client', clientSecret: FALCON_SECRET }),
    ]);
    splunk.respond = (search) => {
      const marker = [...splunkHasMarker].find((m) => search.search.includes(m));
      if (marker) return { events: [splunkEvent(eventAt(), `m:${marker}`, { CommandLine: `whoami /c ${marker}` })] };
      const host = [...splunkHasHost].find((h) => search.search.includes(h));
      return { events: host ? [splunkEvent(eventAt(), `h:${host}`, { host })] : [] };
    };
    falcon.respond = (query) => {
      const host = [...falconHasHost.keys()].find((h) => query.filter.includes(h));
      return host ? [falconAlert(`falcon:alert:${host}`, eventAt(), falconHasHost.get(host))] : [];
    };
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    typeorm = new DataSource(dataSourceOptions(db.url));
    await typeorm.initialize();
    const env = {
      ...broker.env(),
      ...db.env(), // each app as its own PostgreSQL role, as provisioned in production
      LOG_LEVEL: 'info',
      SPLUNK_URL: splunk.url,
      SPLUNK_TOKEN,
      CROWDSTRIKE_BASE_URL: falcon.url,
      CROWDSTRIKE_CLIENT_ID: 'falcon-client',
      CROWDSTRIKE_CLIENT_SECRET: FALCON_SECRET,
      DETECTION_INITIAL_DELAY_SECONDS: '0',
      DETECTION_RETRY_INTERVAL_SECONDS: '1',
      DETECTION_WINDOW_AFTER_SECONDS: '2',
      DISPATCH_SWEEP_MS: '500',
      DETECTION_LEARNED_DELAY_MIN_SAMPLES: '3',
      DETECTION_LEARNED_DELAY_MAX_SECONDS: String(LEARNED_MAX_SECONDS),
      DETECTION_LEARNED_DELAY_REFRESH_SECONDS: '0',
    };
    // five ts-node processes at once on a loaded machine: generous start-up
    Object.assign(apps, await startServiceProcesses(PIPELINE, env, 300_000));
    publisher = await amqp.connect(broker.amqpUrl('caldera_publisher', CHECKING_VHOST));
    channel = await publisher.createConfirmChannel();
  }, 420_000);

  afterAll(async () => {
    await publisher?.close().catch(() => undefined);
    await Promise.all(Object.values(apps).map((app) => app?.stop()));
    await sql?.end();
    await typeorm?.destroy();
    await Promise.all([splunk?.close(), falcon?.close()]);
    await Promise.all([broker?.dispose(), db?.drop()]);
  });

  const splunkTask = (query: string, extra: Record<string, unknown> = {}) => ({
    detection_type: 'api',
    detection_platform: 'siem',
    detection_config: { connector: 'splunk', query, ...extra },
    max_retries: 0,
  });
  const falconTask = (query: string) => ({ detection_type: 'api', detection_platform: 'edr', detection_config: { connector: 'crowdstrike', query }, max_retries: 0 });

  async function publishExecution(operationId: string, linkId: string, techniqueId: string, host: string, detections: unknown[]) {
    const body = {
      message_type: 'link_result',
      timestamp: new Date().toISOString(),
      operation: { id: operationId, name: operationId, start: new Date(Date.now() - 60_000).toISOString() },
      execution: {
        link_id: linkId,
        agent_host: host,
        agent_paw: `paw-${linkId}`,
        command: 'whoami',
        status: 0,
        state: 'SUCCESS',
        result_data: '{"stdout": "root", "stderr": "", "exit_code": 0}',
        agent_reported_time: new Date().toISOString(),
        technique_id: techniqueId,
        technique_name: techniqueId,
        tactic: 'discovery',
        detections,
      },
    };
    channel.publish(CHECKING_EXCHANGE, ROUTING_KEYS.executionResult, Buffer.from(JSON.stringify(body)), {
      persistent: true,
      contentType: 'application/json',
      messageId: `msg-${linkId}`,
      correlationId: `corr-${linkId}`,
    });
    await channel.waitForConfirms();
  }

  const execution = (linkId: string, verdicts: string[]) =>
    eventually(
      async () => {
        const { rows } = await sql.query(`SELECT * FROM execution WHERE caldera_link_id = $1`, [linkId]);
        if (rows.length === 1 && verdicts.includes(rows[0].verdict)) return rows[0];
        throw new Error(`execution ${linkId}: ${rows[0]?.verdict ?? 'absent'}`);
      },
      90_000,
      250,
    );

  const resultsOf = async (linkId: string) =>
    (
      await sql.query(
        `SELECT t.connector, t.recheck_of, t.initial_delay_seconds, t.initial_delay_source, r.status, r.match_quality, r.action, r.late
           FROM detection_task t JOIN execution e ON e.id = t.execution_id LEFT JOIN detection_result r ON r.task_id = t.id
          WHERE e.caldera_link_id = $1 ORDER BY t.created_at`,
        [linkId],
      )
    ).rows;

  it('grades a marker match exact and a host-only match scoped, and keeps what the EDR did', async () => {
    const link = 'link-exact-0001';
    const host = 'exact-host.lab';
    splunkHasMarker.add(link);
    falconHasHost.set(host, { pattern_disposition_details: { process_blocked: true, kill_process: true } });
    await publishExecution('op-marker', link, 'T1033', host, [splunkTask('index=main CommandLine="*{{marker}}*"'), falconTask('device.hostname:{{host}}')]);
    await execution(link, ['detected']);
    const results = await eventually(async () => {
      const rows = await resultsOf(link);
      if (rows.every((r) => r.status)) return rows;
      throw new Error(JSON.stringify(rows));
    }, 60_000);
    expect(results.map((r) => [r.connector, r.status, r.match_quality, r.action])).toEqual([
      ['splunk', 'detected', 'exact', null],
      ['crowdstrike', 'detected', 'scoped', 'blocked'],
    ]);
    // the worker searched for the execution's marker (Caldera's link id)
    expect(splunk.searches.some((s) => s.search.includes(`*${link}*`))).toBe(true);
  }, 120_000);

  it('records a detection found by a re-check after not_detected as late, keeping the history', async () => {
    const link = 'link-late-0002';
    await publishExecution('op-late', link, 'T1057', 'late-host.lab', [splunkTask('index=main late={{marker}}', { recheck_after_seconds: 3 })]);
    const missed = await execution(link, ['not_detected']);
    // the slow SIEM rule catches up
    splunkHasMarker.add(link);
    const late = await execution(link, ['detected']);
    expect(late.late_detection).toBe(true);
    const { rows: history } = await sql.query(`SELECT from_verdict, to_verdict, late FROM execution_verdict_change WHERE execution_id = $1 ORDER BY id`, [missed.id]);
    expect(history).toEqual([
      { from_verdict: 'pending', to_verdict: 'checking', late: false },
      { from_verdict: 'checking', to_verdict: 'not_detected', late: false },
      { from_verdict: 'not_detected', to_verdict: 'detected', late: true },
    ]);
    const results = await resultsOf(link);
    expect(results.map((r) => [r.recheck_of === null ? 'task' : 'recheck', r.status, r.late])).toEqual([
      ['task', 'not_detected', false],
      ['recheck', 'detected', true],
    ]);
  }, 120_000);

  it('shows two sources disagreeing on one technique in the matrix', async () => {
    const link = 'link-disagree-0003';
    const host = 'disagree-host.lab';
    splunkHasHost.add(host);
    await publishExecution('op-matrix', link, 'T1059', host, [splunkTask('index=main host="{{host}}"'), falconTask('device.hostname:{{host}}')]);
    await eventually(async () => {
      const rows = await resultsOf(link);
      if (rows.length === 2 && rows.every((r) => r.status)) return rows;
      throw new Error(JSON.stringify(rows));
    }, 60_000);
    const matrix = await new GetSourceMatrix(new PurpleReadRepository(typeorm)).execute('op-matrix');
    expect(matrix.disagreements).toEqual(['T1059']);
    expect(matrix.techniques[0]).toMatchObject({ technique_id: 'T1059', disagreement: true, seen_by: ['splunk'], missed_by: ['crowdstrike'] });
    expect(matrix.techniques[0].sources.map((s) => [s.source, s.detected, s.not_detected])).toEqual([
      ['crowdstrike', 0, 1],
      ['splunk', 1, 0],
    ]);
  }, 120_000);

  it('compares two runs: one technique regressed, and the CLI exits non-zero', async () => {
    const host = 'compare-host.lab';
    await publishExecution('op-week-1', 'link-week1-0004', 'T1003', host, [splunkTask('index=main cmp={{marker}}')]);
    await publishExecution('op-week-1', 'link-week1-0005', 'T1082', host, [splunkTask('index=main cmp={{marker}}')]);
    splunkHasMarker.add('link-week1-0004');
    splunkHasMarker.add('link-week1-0005');
    splunkHasMarker.add('link-week2-0007');
    await publishExecution('op-week-2', 'link-week2-0006', 'T1003', host, [splunkTask('index=main cmp={{marker}}')]);
    await publishExecution('op-week-2', 'link-week2-0007', 'T1082', host, [splunkTask('index=main cmp={{marker}}')]);
    for (const link of ['link-week1-0004', 'link-week1-0005', 'link-week2-0007']) await execution(link, ['detected']);
    await execution('link-week2-0006', ['not_detected']);

    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        // as `npm run checking:compare -- …` runs it
        const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', 'tools/compare/main.ts', ...args], {
          cwd: join(__dirname, '..', '..'),
          env: { ...process.env, DATABASE_URL: db.url, TS_NODE_PROJECT: 'tools/tsconfig.json' },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const failing = await run(['op-week-1', 'op-week-2', '--fail-on', 'regressions']);
    expect({ code: failing.code, stderr: failing.stderr }).toEqual({ code: 1, stderr: '' });
    expect(failing.stdout).toContain('1 regression(s): 1 newly missed');
    expect(failing.stdout).toContain(`REGRESSION T1003 on ${host}: newly_missed`);
    expect(failing.stdout).toContain(`T1082 on ${host}: still_detected`);
    // without --fail-on, the same comparison only reports
    expect((await run(['op-week-1', 'op-week-2'])).code).toBe(0);
  }, 420_000);

  it("gives a task whose ability sets no delay its source's learned delay, bounded", async () => {
    // splunk has several detections by now, each found seconds after its event
    const link = 'link-learned-0008';
    splunkHasMarker.add(link);
    await publishExecution('op-learned', link, 'T1016', HOST, [splunkTask('index=main learned={{marker}}'), splunkTask('index=main learned={{marker}}', { delay: 0 })]);
    await execution(link, ['detected']);
    const tasks = await resultsOf(link);
    expect(tasks.map((t) => [t.initial_delay_source, t.initial_delay_seconds])).toEqual([
      ['learned', LEARNED_MAX_SECONDS],
      ['ability', 0],
    ]);
    const searches = splunk.searches.filter((s) => s.search.includes(`learned=${link}`) || s.search.includes(`learned="${link}"`));
    expect(searches.length).toBeGreaterThan(0);
  }, 120_000);
});
