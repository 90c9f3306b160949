import { INestApplication, Logger } from '@nestjs/common';
import { parseInstruction } from '@purple/checking';
import { LinkResultMessage, validateMessage } from '@purple/contracts';
import { QueueReader, Received, ServiceProcess, startServiceProcess } from '@purple/detection/testing';
import { BrokerNamespace, TestDatabase, createBrokerNamespace, createTestDatabase, eventually, health, startTestService, databaseEnv } from '@purple/testing';
import { CHECKING_EXCHANGE, CHECKING_QUEUES, ROUTING_KEYS } from '@purple/topology';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { CalderaBridgeModule } from '../src/app.module';
import { POLL_LOCK_KEY } from '../src/bridge/sent-link-repository';
import { FakeCaldera, STATUS, calderaTime } from './fake-caldera';

jest.setTimeout(120_000);

const KEY = `red-key-${randomUUID()}`;

/** An ability with detections in the patched-Caldera list form, written in its YAML as a JSON string. */
const WHOAMI = {
  ability_id: 'c0da588f-79f0-4263-8998-7496b1a40596',
  tactic: 'discovery',
  technique_id: 'T1033',
  technique_name: 'System Owner/User Discovery',
  detectionsWrittenAs: 'json' as const,
  detections: [
    {
      detection_type: 'api',
      detection_platform: 'siem',
      detection_config: { query: 'index=wineventlog host={{host}} CommandLine="*whoami*"', connector: 'splunk', window_after_seconds: 600 },
      max_retries: 1,
    },
    { detection_type: 'agent', detection_platform: 'linux', detection_config: { command: "grep 'whoami' /var/log/auth.log", connector: 'bash' } },
  ],
};

/** Detections written in the YAML as a list: Caldera's API serves Python's text of it. */
const LIST_FILES = {
  ability_id: '90c2efaa-8205-480d-8bb6-61d90dbaf81b',
  tactic: 'discovery',
  technique_id: 'T1083',
  technique_name: 'File and Directory Discovery',
  detectionsWrittenAs: 'yaml' as const,
  detections: [{ detection_type: 'api', detection_platform: 'edr', detection_config: { query: 'process.name:ls', connector: 'elastic' } }],
};

/** Detections no consumer could run: published as they are, for the consumer to reject entry by entry. */
const BROKEN_DETECTIONS = [{ detection_type: 'email', detection_platform: 'outlook', detection_config: { query: 'x' } }];
const BROKEN = {
  ability_id: 'b20ke0n0-0000-4000-8000-000000000000',
  tactic: 'collection',
  technique_id: 'T1005',
  technique_name: 'Data from Local System',
  detections: BROKEN_DETECTIONS,
};

const OUTPUT = { stdout: 'administrator', stderr: '', exit_code: 0 };

describe('caldera-bridge (fake Caldera REST API, real broker and database)', () => {
  let broker: BrokerNamespace;
  let database: TestDatabase;
  let db: Client;
  let caldera: FakeCaldera;
  let instructions: QueueReader;
  let bridge: INestApplication | undefined;

  const start = async () => {
    bridge = await startTestService('caldera-bridge', (env) => CalderaBridgeModule.register(env), broker, database.url, {
      CALDERA_URL: caldera.url,
      CALDERA_API_KEY: KEY,
      CALDERA_BRIDGE_POLL_INTERVAL_MS: '200',
      CALDERA_BRIDGE_OPERATIONS: 'purple-discovery,op-closed',
    });
    return bridge;
  };
  const stop = async () => {
    await bridge?.close();
    bridge = undefined;
  };

  const linkIdsPublished = () => instructions.messages.map((m) => (m.body['execution'] as Record<string, unknown>)['link_id']);
  const publishedFor = (linkId: string) => instructions.messages.filter((m) => m.properties.messageId === `caldera-link:${linkId}`);
  const operationsPolls = () => caldera.requestsTo('/api/v2/operations').length;
  /** waits until the bridge has asked Caldera for its operations `count` more times: that many whole polls */
  const morePolls = async (count: number) => {
    const target = operationsPolls() + count + 1;
    await eventually(async () => operationsPolls() >= target);
  };
  const sentRows = async () =>
    (await db.query(`SELECT link_id, operation_id, skipped_reason FROM caldera_bridge_sent_link ORDER BY link_id`)).rows as Array<{
      link_id: string;
      operation_id: string;
      skipped_reason: string | null;
    }>;

  beforeAll(async () => {
    [broker, database, caldera] = await Promise.all([createBrokerNamespace(), createTestDatabase(), FakeCaldera.start(KEY)]);
    db = new Client({ connectionString: database.url });
    await db.connect();
    instructions = await QueueReader.start(broker, CHECKING_QUEUES.instructions);

    caldera.addAbility(WHOAMI);
    caldera.addAbility(LIST_FILES);
    caldera.addAbility(BROKEN);
    caldera.addAgent('paw-win', 'WIN-TARGET-01', 'windows');
    caldera.addAgent('paw-lin', 'linux-box');

    caldera.addOperation('op-running', 'purple-discovery');
    caldera.addLink('op-running', { id: 'link-whoami', paw: 'paw-win', command: 'whoami', abilityId: WHOAMI.ability_id, status: STATUS.SUCCESS, output: OUTPUT });
    // no host on the link: the bridge asks for the agent
    caldera.addLink('op-running', {
      id: 'link-ls',
      paw: 'paw-lin',
      host: null,
      command: 'ls -la /root',
      abilityId: LIST_FILES.ability_id,
      status: STATUS.ERROR,
      output: { stdout: '', stderr: "ls: cannot open directory '/root': Permission denied", exit_code: '2' },
    });
    caldera.addLink('op-running', { id: 'link-pending', paw: 'paw-lin', command: 'id', abilityId: WHOAMI.ability_id });
    caldera.addLink('op-running', { id: 'link-discarded', paw: 'paw-lin', command: 'id', abilityId: WHOAMI.ability_id, status: STATUS.DISCARD });
    // a manual command: its ability exists only in the link (GET /abilities answers 404), and it printed nothing
    caldera.addLink('op-running', { id: 'link-manual', paw: 'paw-win', command: 'net user', abilityId: 'manual-6f1e', status: STATUS.SUCCESS });

    caldera.addOperation('op-closed', 'closed-op', 'finished');
    caldera.addLink('op-closed', { id: 'link-closed', paw: 'paw-lin', command: 'uname -a', abilityId: WHOAMI.ability_id, status: STATUS.TIMEOUT });

    caldera.addOperation('op-other', 'not-bridged');
    caldera.addLink('op-other', { id: 'link-other', paw: 'paw-lin', command: 'hostname', abilityId: WHOAMI.ability_id, status: STATUS.SUCCESS });

    await start();
  }, 120_000);

  afterAll(async () => {
    await stop();
    await Promise.all([instructions?.close(), db?.end(), caldera?.close()]);
    await Promise.all([broker?.dispose(), database?.drop()]);
  }, 60_000);

  afterEach(() => jest.restoreAllMocks());

  it('publishes each finished link once, as caldera_publisher, in the link_result shape with technique and detections', async () => {
    await eventually(async () => instructions.messages.length >= 4);
    await morePolls(2);
    expect(linkIdsPublished().sort()).toEqual(['link-closed', 'link-ls', 'link-manual', 'link-whoami']);

    const whoami = publishedFor('link-whoami')[0];
    expect(validateMessage(LinkResultMessage, whoami.body).ok).toBe(true);
    expect(whoami.body).toEqual({
      message_type: 'link_result',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      operation: { id: 'op-running', name: 'purple-discovery', start: expect.stringMatching(/Z$/) },
      execution: {
        link_id: 'link-whoami',
        agent_host: 'WIN-TARGET-01',
        agent_paw: 'paw-win',
        command: 'whoami',
        result_data: OUTPUT,
        agent_reported_time: expect.stringMatching(/Z$/),
        pid: 4242,
        status: 0,
        state: 'SUCCESS',
        tactic: 'discovery',
        technique_id: 'T1033',
        technique_name: 'System Owner/User Discovery',
        detections: WHOAMI.detections,
      },
    });
    expect(whoami.fields).toMatchObject({ exchange: CHECKING_EXCHANGE, routingKey: ROUTING_KEYS.executionResult });
    expect(whoami.properties).toMatchObject({
      messageId: 'caldera-link:link-whoami',
      correlationId: 'link-whoami',
      deliveryMode: 2,
      contentType: 'application/json',
    });

    // the caldera-consumer's own parsing accepts every message, detections and ATT&CK data included
    const parsed = (m: Received) => parseInstruction(Buffer.from(JSON.stringify(m.body)));
    expect(parsed(whoami)).toMatchObject({
      operationId: 'op-running',
      linkId: 'link-whoami',
      agentHost: 'WIN-TARGET-01',
      result: { stdout: 'administrator', stderr: '', exitCode: 0 },
      attack: { tactic: 'discovery', techniqueId: 'T1033', techniqueName: 'System Owner/User Discovery' },
    });
    expect(parsed(whoami).detections.map((d) => [d.detectionType, d.platform, d.connector, d.maxRetries])).toEqual([
      ['api', 'siem', 'splunk', 1],
      ['agent', 'linux', 'bash', undefined],
    ]);
    const listFiles = parsed(publishedFor('link-ls')[0]);
    expect(listFiles).toMatchObject({
      agentHost: 'linux-box',
      command: 'ls -la /root',
      result: { stdout: '', stderr: "ls: cannot open directory '/root': Permission denied", exitCode: 2 },
      attack: { techniqueId: 'T1083' },
    });
    expect(listFiles.detections).toEqual([{ detectionType: 'api', platform: 'edr', connector: 'elastic', query: 'process.name:ls', config: {} }]);
    expect(publishedFor('link-ls')[0].body['execution']).toMatchObject({ status: 1, state: 'ERROR' });
    expect(parsed(publishedFor('link-manual')[0])).toMatchObject({ result: { stdout: '', exitCode: null }, attack: { techniqueId: 'auto-generated' }, detections: [] });
    expect(parsed(publishedFor('link-closed')[0])).toMatchObject({ operationId: 'op-closed', operationName: 'closed-op' });
    expect(publishedFor('link-closed')[0].body['execution']).toMatchObject({ status: 124, state: 'TIMEOUT' });

    // the bridge's connection is the publisher's: a patched Caldera's user, allowed only caldera.execution.result
    // (the management API lists a new connection after its next statistics round)
    const bridgeUsers = await eventually(async () => {
      const connections = await broker
        .management()
        .get<Array<{ user: string; client_properties: { connection_name?: string } }>>(
          `/api/vhosts/${encodeURIComponent(broker.vhost('/caldera_checking'))}/connections`,
        );
      const users = connections.filter((c) => c.client_properties.connection_name === 'caldera-bridge').map((c) => c.user);
      return users.length > 0 && users;
    });
    expect(bridgeUsers).toEqual([broker.user('caldera_publisher')]);

    // Caldera was asked as its API documents, with the key on every request
    expect(caldera.server.requests.every((r) => r.headers['key'] === KEY)).toBe(true);
    expect(caldera.requestsTo('/api/v2/agents/paw-lin').length).toBeGreaterThan(0);
    expect(caldera.requestsTo('/api/v2/agents/paw-win')).toHaveLength(0);
    expect(caldera.requestsTo('/api/v2/abilities/manual-6f1e').length).toBeGreaterThan(0);
    expect(caldera.requestsTo('/api/v2/operations/op-other/links')).toHaveLength(0);

    expect(await sentRows()).toEqual([
      { link_id: 'link-closed', operation_id: 'op-closed', skipped_reason: null },
      { link_id: 'link-ls', operation_id: 'op-running', skipped_reason: null },
      { link_id: 'link-manual', operation_id: 'op-running', skipped_reason: null },
      { link_id: 'link-whoami', operation_id: 'op-running', skipped_reason: null },
    ]);
  });

  it('publishes nothing new at later polls, and a link that finishes later exactly once', async () => {
    await morePolls(3);
    expect(instructions.messages).toHaveLength(4);
    // each result was fetched once; the closed operation's links were asked for once, then no more
    expect(caldera.requestsTo('/api/v2/operations/op-running/links/link-whoami/result')).toHaveLength(1);
    expect(caldera.requestsTo('/api/v2/operations/op-closed/links')).toHaveLength(1);

    caldera.finishLink('op-running', 'link-pending', STATUS.SUCCESS, { stdout: 'uid=0(root)', stderr: '', exit_code: 0 });
    await eventually(async () => publishedFor('link-pending').length === 1);
    await morePolls(3);
    expect(publishedFor('link-pending')).toHaveLength(1);
    expect(publishedFor('link-pending')[0].body['execution']).toMatchObject({ command: 'id', result_data: { stdout: 'uid=0(root)' } });
    expect(linkIdsPublished()).not.toContain('link-discarded');
  });

  it('publishes a link whose detections are unusable as it is (the consumer rejects them entry by entry)', async () => {
    caldera.addLink('op-running', { id: 'link-bad-detections', paw: 'paw-lin', command: 'cat /etc/shadow', abilityId: BROKEN.ability_id, status: STATUS.SUCCESS });
    await eventually(async () => publishedFor('link-bad-detections').length === 1);
    expect(publishedFor('link-bad-detections')[0].body['execution']).toMatchObject({ command: 'cat /etc/shadow', detections: BROKEN_DETECTIONS });
  });

  it('records a link whose message cannot be valid as skipped, with the reason, and never tries it again', async () => {
    const warned = jest.spyOn(Logger.prototype, 'warn');
    caldera.addLink('op-running', { id: 'link-broken', paw: 'paw-lin', command: '', abilityId: BROKEN.ability_id, status: STATUS.SUCCESS });
    const row = await eventually(async () => (await sentRows()).find((r) => r.link_id === 'link-broken'));
    expect(row.skipped_reason).toMatch(/^not a valid link_result: execution\.command should not be empty/);
    expect(
      warned.mock.calls.some(([line]) => JSON.stringify(line).includes('skipped Caldera link link-broken') && JSON.stringify(line).includes('execution.command')),
    ).toBe(true);
    await morePolls(3);
    expect(publishedFor('link-broken')).toHaveLength(0);
    expect(caldera.requestsTo('/api/v2/operations/op-running/links/link-broken/result')).toHaveLength(1);
  });

  it('publishes nothing again after a restart with the same database', async () => {
    const published = instructions.messages.length;
    const resultsFetched = caldera.requestsTo(/\/result$/).length;
    await stop();
    await start();
    await morePolls(4);
    expect(instructions.messages).toHaveLength(published);
    expect(caldera.requestsTo(/\/result$/)).toHaveLength(resultsFetched);
  });

  it('takes turns with another bridge: while one holds the poll lock, the other asks and publishes nothing', async () => {
    const otherBridge = new Client({ connectionString: database.url });
    await otherBridge.connect();
    try {
      await otherBridge.query('SELECT pg_advisory_lock($1)', [POLL_LOCK_KEY]);
      // a poll that had the lock already may be finishing: let it end
      await new Promise((resolve) => setTimeout(resolve, 500));
      const polls = operationsPolls();
      caldera.addLink('op-running', { id: 'link-while-locked', paw: 'paw-win', command: 'whoami /user', abilityId: WHOAMI.ability_id, status: STATUS.SUCCESS });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(operationsPolls()).toBe(polls);
      expect(publishedFor('link-while-locked')).toHaveLength(0);
      await otherBridge.query('SELECT pg_advisory_unlock($1)', [POLL_LOCK_KEY]);
      await eventually(async () => publishedFor('link-while-locked').length === 1);
    } finally {
      await otherBridge.end();
    }
  });

  it('stays up when Caldera refuses the key or fails, logs why without the key, and catches up once Caldera answers', async () => {
    const spies = (['log', 'warn', 'error', 'debug'] as const).map((level) => jest.spyOn(Logger.prototype, level));
    const logged = () => spies.flatMap((spy) => spy.mock.calls.map((call) => JSON.stringify(call)));

    caldera.apiKey = 'rotated-key';
    await eventually(async () => logged().some((line) => line.includes('refused the API key (HTTP 401); check CALDERA_API_KEY')));
    expect((await health(bridge as INestApplication, 'live')).status).toBe(200);
    expect((await health(bridge as INestApplication, 'ready')).status).toBe(200);

    // a Caldera in trouble whose error page quotes the request, key included
    caldera.apiKey = KEY;
    caldera.failWith = 500;
    await eventually(async () => logged().some((line) => line.includes('answered HTTP 500 to GET /api/v2/operations')));
    expect(logged().some((line) => line.includes('internal error serving') && line.includes('[CALDERA_API_KEY]'))).toBe(true);

    caldera.failWith = undefined;
    caldera.addLink('op-running', { id: 'link-after-outage', paw: 'paw-win', command: 'whoami /groups', abilityId: WHOAMI.ability_id, status: STATUS.SUCCESS, output: OUTPUT });
    await eventually(async () => publishedFor('link-after-outage').length === 1);
    await eventually(async () => logged().some((line) => line.includes('polling Caldera works again')));
    expect(logged().filter((line) => line.includes(KEY))).toEqual([]);
  });

  describe('with the real caldera-consumer reading the instructions queue', () => {
    let consumer: ServiceProcess | undefined;

    beforeAll(async () => {
      // the consumer takes the queue over from the test's reader
      await instructions.close();
      consumer = await startServiceProcess('caldera-consumer', { ...broker.env(), ...databaseEnv(database.url), LOG_LEVEL: 'info' });
    }, 120_000);
    afterAll(async () => {
      await consumer?.stop();
    }, 60_000);

    const executionsOf = async (linkId: string) =>
      (
        await db.query(
          `SELECT e.id, e.agent_host, e.command, e.technique_id, e.correlation_id, e.executed_at, o.caldera_operation_id,
                  (SELECT count(*)::int FROM detection_task t WHERE t.execution_id = e.id) AS tasks
             FROM execution e JOIN operation o ON o.id = e.operation_id WHERE e.caldera_link_id = $1`,
          [linkId],
        )
      ).rows;

    it('is accepted and stored once, even when a crash between confirm and record makes the bridge send it again', async () => {
      const finishedAt = new Date(Date.now() - 5000);
      caldera.addLink('op-running', {
        id: 'link-end-to-end',
        paw: 'paw-win',
        command: 'whoami /priv',
        abilityId: WHOAMI.ability_id,
        status: STATUS.SUCCESS,
        finishedAt,
        output: OUTPUT,
      });
      const [stored] = await eventually(async () => {
        const rows = await executionsOf('link-end-to-end');
        return rows.length > 0 && rows;
      });
      expect(stored).toMatchObject({
        agent_host: 'WIN-TARGET-01',
        command: 'whoami /priv',
        technique_id: 'T1033',
        correlation_id: 'link-end-to-end',
        caldera_operation_id: 'op-running',
        tasks: 2,
      });
      expect((stored.executed_at as Date).toISOString()).toBe(new Date(calderaTime(finishedAt)).toISOString());

      // as if the bridge had died after the broker's confirm, before its record
      await stop();
      await db.query(`DELETE FROM caldera_bridge_sent_link WHERE link_id = 'link-end-to-end'`);
      const resultsFetched = caldera.requestsTo('/api/v2/operations/op-running/links/link-end-to-end/result').length;
      await start();
      await eventually(async () => (await sentRows()).some((r) => r.link_id === 'link-end-to-end'));
      expect(caldera.requestsTo('/api/v2/operations/op-running/links/link-end-to-end/result')).toHaveLength(resultsFetched + 1);
      // the consumer recognises the second copy by its link id and creates nothing
      await eventually(async () =>
        (consumer as ServiceProcess).lines().some((line) => line.includes('delivered again') && line.includes('link-end-to-end')),
      );
      expect(await executionsOf('link-end-to-end')).toEqual([stored]);
      expect(consumer?.lines().join('\n') ?? '').not.toMatch(/dead-letter/i);
    });
  });
});
