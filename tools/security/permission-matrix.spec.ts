import * as amqp from 'amqplib';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { DATABASE_APPS, DatabaseApp, TABLE_GRANTS, TablePrivilege, applyGrants, databaseRoleOf, withCredentials } from '@purple/persistence';
import { BrokerNamespace, RoledTestDatabase, TEST_DATABASE_SERVER, createBrokerNamespace, createRoledTestDatabase } from '@purple/testing';
import {
  APP_NAMES,
  CHECKING_DLX,
  CHECKING_EXCHANGE,
  CHECKING_QUEUES,
  CHECKING_VHOST,
  ManagementApiError,
  ManagementClient,
  SOAR_EXCHANGES,
  SOAR_RETRY_QUEUE,
  SOAR_VHOST,
  clientTopology,
  deadLetterQueueOf,
  roleOf,
} from '@purple/topology';

/**
 * Issue 12 #12, "least privilege, for real": what every broker user and every database role can do, tried with real
 * operations against a real RabbitMQ and a real PostgreSQL (a namespace and a database of this run's own). The
 * expectations are written out by hand: they are the security model, not a copy of the code that provisions it.
 */
const REPO = join(__dirname, '..', '..');
const ACCESS_REFUSED = 403;

type Outcome = 'ok' | 'refused';

/** Runs `op` on a channel of its own (a refusal closes the channel): ok, or refused with ACCESS_REFUSED. */
async function attempt(connection: amqp.ChannelModel, op: (channel: amqp.ConfirmChannel) => Promise<unknown>): Promise<Outcome> {
  const channel = await connection.createConfirmChannel();
  const closed = new Promise<never>((_, reject) => {
    channel.on('error', reject);
    channel.on('close', () => reject(new Error('channel closed')));
  });
  closed.catch(() => undefined);
  try {
    await Promise.race([op(channel), closed]);
    await channel.close();
    return 'ok';
  } catch (error) {
    const code = (error as { code?: number }).code;
    if (code === ACCESS_REFUSED) return 'refused';
    throw error;
  }
}

const publish = (exchange: string, routingKey: string) => (channel: amqp.ConfirmChannel) =>
  new Promise<void>((resolve, reject) =>
    channel.publish(exchange, routingKey, Buffer.from('{"probe":true}'), { persistent: true, messageId: 'probe' }, (error) => (error ? reject(error) : resolve())),
  );

const consume = (queue: string) => async (channel: amqp.ConfirmChannel) => {
  // prefetch 0 messages' worth of harm: cancelled at once, anything delivered is requeued when the channel closes
  const { consumerTag } = await channel.consume(queue, () => undefined);
  await channel.cancel(consumerTag);
};

const declareQueue = (queue: string) => (channel: amqp.ConfirmChannel) =>
  channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });

describe('the permission matrix: broker users (real RabbitMQ)', () => {
  let broker: BrokerNamespace;
  const connections = new Map<string, amqp.ChannelModel>();

  /** a connection as `user` to `vhost`, or 'refused' when the user has no access to the vhost */
  async function connect(user: string, vhost: string): Promise<amqp.ChannelModel | 'refused'> {
    const key = `${user} ${vhost}`;
    const open = connections.get(key);
    if (open) return open;
    try {
      const connection = await amqp.connect(broker.amqpUrl(user, vhost));
      connection.on('error', () => undefined);
      connections.set(key, connection);
      return connection;
    } catch (error) {
      // a vhost the user has no permissions in: the broker closes the connection while opening it (ACCESS_REFUSED)
      if (/ACCESS_REFUSED|access to vhost|got <ConnectionClose/i.test((error as Error).message)) return 'refused';
      throw error;
    }
  }

  async function can(user: string, vhost: string, op: (channel: amqp.ConfirmChannel) => Promise<unknown>): Promise<Outcome> {
    const connection = await connect(user, vhost);
    return connection === 'refused' ? 'refused' : attempt(connection, op);
  }

  beforeAll(async () => {
    broker = await createBrokerNamespace();
    // a bus client's queues, created as the api creates them: through the management API as soar_admin
    const asSoarAdmin = broker.management('soar_admin');
    const client = clientTopology('mx', 'soar.#', { namespace: broker.namespace });
    for (const queue of client.queues) await asSoarAdmin.putQueue(queue);
    for (const binding of client.bindings) await asSoarAdmin.createBinding(binding);
  }, 120_000);

  afterAll(async () => {
    for (const connection of connections.values()) await connection.close().catch(() => undefined);
    await broker?.dispose();
  }, 60_000);

  const Q = CHECKING_QUEUES;
  const checkingQueues = [...Object.values(Q), ...Object.values(Q).map(deadLetterQueueOf)];
  /** routing keys tried on the checking exchange and the DLX: every key anyone may use */
  const checkingKeys = ['caldera.execution.result', 'checking.api.task', 'checking.agent.task', 'checking.api.response', 'checking.agent.response'];
  const dlxKeys = Object.values(Q);

  /** [exchange, routing key] pairs each user may publish in /caldera_checking; anything else is refused */
  const checkingWrites: Record<string, string[]> = {
    caldera_publisher: [`${CHECKING_EXCHANGE} caldera.execution.result`],
    checking_consumer: [`${CHECKING_DLX} ${Q.instructions}`],
    checking_dispatcher: [`${CHECKING_EXCHANGE} checking.api.task`, `${CHECKING_EXCHANGE} checking.agent.task`],
    checking_worker: [
      `${CHECKING_EXCHANGE} checking.api.response`,
      `${CHECKING_EXCHANGE} checking.agent.response`,
      `${CHECKING_DLX} ${Q.apiTasks}`,
      `${CHECKING_DLX} ${Q.agentTasks}`,
    ],
    checking_result_consumer: [`${CHECKING_DLX} ${Q.apiResponses}`, `${CHECKING_DLX} ${Q.agentResponses}`],
    monitor_user: [],
  };
  const checkingReads: Record<string, string[]> = {
    caldera_publisher: [],
    checking_consumer: [Q.instructions],
    checking_dispatcher: [],
    checking_worker: [Q.apiTasks, Q.agentTasks],
    checking_result_consumer: [Q.apiResponses, Q.agentResponses, ...Object.values(Q).map(deadLetterQueueOf)],
    monitor_user: [],
  };

  it.each(Object.keys(checkingWrites))('/caldera_checking: %s publishes only its own routing keys, reads only its queues, declares nothing', async (user) => {
    const writes: Record<string, Outcome> = {};
    for (const key of checkingKeys) writes[`${CHECKING_EXCHANGE} ${key}`] = await can(user, CHECKING_VHOST, publish(CHECKING_EXCHANGE, key));
    for (const key of dlxKeys) writes[`${CHECKING_DLX} ${key}`] = await can(user, CHECKING_VHOST, publish(CHECKING_DLX, key));
    const reads: Record<string, Outcome> = {};
    for (const queue of checkingQueues) reads[queue] = await can(user, CHECKING_VHOST, consume(queue));
    expect(writes).toEqual(Object.fromEntries(Object.keys(writes).map((k) => [k, checkingWrites[user].includes(k) ? 'ok' : 'refused'])));
    expect(reads).toEqual(Object.fromEntries(checkingQueues.map((q) => [q, checkingReads[user].includes(q) ? 'ok' : 'refused'])));
    expect(await can(user, CHECKING_VHOST, declareQueue('caldera.checking.probe'))).toBe('refused');
    expect(await can(user, CHECKING_VHOST, declareQueue(Q.instructions))).toBe('refused');
  }, 60_000);

  const soarExchanges = Object.values(SOAR_EXCHANGES);
  const clientQueueNames = ['mx-outbox', 'mx-broadcast', 'mx-inbox', 'mx-dlq'];
  const soarQueues = [...clientQueueNames, SOAR_RETRY_QUEUE];
  const soarWrites: Record<string, string[]> = {
    soar_api: [SOAR_EXCHANGES.send, SOAR_EXCHANGES.notify, SOAR_EXCHANGES.direct],
    soar_router: [SOAR_EXCHANGES.direct, SOAR_EXCHANGES.retry, SOAR_EXCHANGES.dlx],
    // the dead-letter exchange its queues name (declaring them needs it); binding needs write on the queue
    soar_admin: [SOAR_EXCHANGES.dlx],
    monitor_user: [],
  };
  const soarReads: Record<string, string[]> = {
    soar_api: ['mx-inbox', 'mx-dlq'],
    soar_router: ['mx-outbox', 'mx-broadcast', 'mx-inbox', SOAR_RETRY_QUEUE],
    soar_admin: clientQueueNames,
    monitor_user: [],
  };

  it.each(Object.keys(soarWrites))('/soar: %s publishes and reads only what it needs', async (user) => {
    const writes: Record<string, Outcome> = {};
    for (const exchange of soarExchanges) writes[exchange] = await can(user, SOAR_VHOST, publish(exchange, 'mx'));
    const reads: Record<string, Outcome> = {};
    for (const queue of soarQueues) reads[queue] = await can(user, SOAR_VHOST, consume(queue));
    expect(writes).toEqual(Object.fromEntries(soarExchanges.map((x) => [x, soarWrites[user].includes(x) ? 'ok' : 'refused'])));
    expect(reads).toEqual(Object.fromEntries(soarQueues.map((q) => [q, soarReads[user].includes(q) ? 'ok' : 'refused'])));
  }, 60_000);

  it('/soar: only soar_admin (client queues only) and caldera_admin declare queues', async () => {
    const declares: Record<string, Outcome> = {};
    for (const user of ['soar_api', 'soar_router', 'monitor_user', 'soar_admin']) {
      for (const queue of ['my-inbox', 'soar-probe', 'soar-router-retry-dlq', 'probe']) declares[`${user} ${queue}`] = await can(user, SOAR_VHOST, declareQueue(queue));
    }
    expect(declares).toEqual({
      'soar_api my-inbox': 'refused',
      'soar_api soar-probe': 'refused',
      'soar_api soar-router-retry-dlq': 'refused',
      'soar_api probe': 'refused',
      'soar_router my-inbox': 'refused',
      'soar_router soar-probe': 'refused',
      'soar_router soar-router-retry-dlq': 'refused',
      'soar_router probe': 'refused',
      'monitor_user my-inbox': 'refused',
      'monitor_user soar-probe': 'refused',
      'monitor_user soar-router-retry-dlq': 'refused',
      'monitor_user probe': 'refused',
      'soar_admin my-inbox': 'ok',
      'soar_admin soar-probe': 'refused',
      'soar_admin soar-router-retry-dlq': 'refused',
      'soar_admin probe': 'refused',
    });
    expect(await can('caldera_admin', SOAR_VHOST, declareQueue('admin-probe'))).toBe('ok');
    expect(await can('caldera_admin', CHECKING_VHOST, declareQueue('admin-probe'))).toBe('ok');
  }, 60_000);

  it('keeps each vhost to its own users: no checking user enters /soar, no bus user enters /caldera_checking', async () => {
    const entries: Record<string, Outcome> = {};
    for (const user of ['caldera_publisher', 'checking_consumer', 'checking_dispatcher', 'checking_worker', 'checking_result_consumer']) {
      entries[`${user} /soar`] = (await connect(user, SOAR_VHOST)) === 'refused' ? 'refused' : 'ok';
    }
    for (const user of ['soar_admin', 'soar_api', 'soar_router']) {
      entries[`${user} /caldera_checking`] = (await connect(user, CHECKING_VHOST)) === 'refused' ? 'refused' : 'ok';
    }
    expect(Object.values(entries).every((o) => o === 'refused')).toBe(true);
    expect(Object.keys(entries)).toHaveLength(8);
  }, 60_000);

  it('soar_admin: creates and deletes a client\'s queues and bindings through the management API, and nothing else', async () => {
    const asSoarAdmin = broker.management('soar_admin');
    const other = clientTopology('mx2', 'soar.other.#', { namespace: broker.namespace });
    for (const queue of other.queues) await asSoarAdmin.putQueue(queue);
    for (const binding of other.bindings) await asSoarAdmin.createBinding(binding);
    const vhost = broker.vhost(SOAR_VHOST);
    expect((await asSoarAdmin.getBindings(vhost, SOAR_EXCHANGES.publish, 'mx2-inbox')).map((b) => b.routing_key)).toEqual(['soar.other.#']);
    for (const queue of ['mx2-outbox', 'mx2-broadcast', 'mx2-inbox', 'mx2-dlq']) await asSoarAdmin.deleteQueue(vhost, queue);

    const refused = async (work: Promise<unknown>) => {
      const error = await work.then(() => null, (e: unknown) => e);
      return error instanceof ManagementApiError && [401, 403].includes(error.status ?? 0);
    };
    const retryQueue = { name: SOAR_RETRY_QUEUE, vhost, durable: true as const, auto_delete: false as const, arguments: { 'x-queue-type': 'quorum' } };
    expect({
      'delete the router retry queue': await refused(asSoarAdmin.deleteQueue(vhost, SOAR_RETRY_QUEUE)),
      'declare a soar- queue': await refused(asSoarAdmin.putQueue({ ...retryQueue, name: 'soar-probe' })),
      'set a policy': await refused(
        asSoarAdmin.putPolicy({ name: 'probe', vhost, pattern: '^mx-', 'apply-to': 'queues', priority: 9, definition: { 'max-length': 1 } }),
      ),
      'declare an exchange': await refused(
        asSoarAdmin.putExchange({ name: 'mx-x', vhost, type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: {} }),
      ),
      'read /caldera_checking': await refused(asSoarAdmin.listQueues(broker.vhost(CHECKING_VHOST))),
      'create a user': await refused(asSoarAdmin.putUser('probe', { password: 'x', tags: [] })),
    }).toEqual({
      'delete the router retry queue': true,
      'declare a soar- queue': true,
      'set a policy': true,
      'declare an exchange': true,
      'read /caldera_checking': true,
      'create a user': true,
    });
    expect(await refused(asSoarAdmin.getQueue(vhost, 'mx-inbox'))).toBe(false);
  }, 60_000);

  it('management API: monitor_user reads, the apps\' users have no access at all', async () => {
    const as = (user: string) => new ManagementClient({ url: broker.settings.managementUrl, username: broker.user(user), password: broker.password(user) });
    expect((await as('monitor_user').listQueues(broker.vhost(CHECKING_VHOST))).length).toBeGreaterThan(0);
    for (const user of ['caldera_publisher', 'checking_consumer', 'checking_dispatcher', 'checking_worker', 'checking_result_consumer', 'soar_api', 'soar_router']) {
      const error = await as(user).whoami().then(() => null, (e: unknown) => e);
      expect([user, error instanceof ManagementApiError ? error.status : 'no error']).toEqual([user, 401]);
    }
  }, 60_000);

  it('caldera_admin (the seed\'s administrator) is used by provisioning alone: no app connects as it or holds its password', () => {
    for (const app of APP_NAMES) expect([app, roleOf(app).user]).not.toEqual([app, 'caldera_admin']);
    const holders: string[] = [];
    const manifests = join(REPO, 'docker/k8s/base');
    for (const dir of ['apps', 'jobs']) {
      for (const file of readdirSync(join(manifests, dir))) {
        if (readFileSync(join(manifests, dir, file), 'utf8').includes('CALDERA_ADMIN_PASSWORD')) holders.push(`${dir}/${file}`);
      }
    }
    expect(holders).toEqual(['jobs/provision.yaml']);
    // compose: the apps read .env, which holds it for `npm run provision`: every app is told to ignore it
    const compose = readFileSync(join(REPO, 'docker/compose.yaml'), 'utf8');
    expect(compose).toMatch(/CALDERA_ADMIN_PASSWORD: ""/);
  });
});

type Matrix = Record<string, Record<TablePrivilege, Outcome>>;

describe('the permission matrix: database roles (real PostgreSQL)', () => {
  let db: RoledTestDatabase;
  let owner: Client;
  let tables: string[];
  const firstColumn = new Map<string, string>();

  beforeAll(async () => {
    db = await createRoledTestDatabase();
    owner = new Client({ connectionString: db.ownerUrl });
    await owner.connect();
    const rows = (await owner.query(
      `SELECT c.relname AS table, (SELECT attname FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum LIMIT 1) AS column
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1`,
    )).rows as Array<{ table: string; column: string }>;
    tables = rows.map((r) => r.table);
    for (const r of rows) firstColumn.set(r.table, r.column);
  }, 120_000);

  afterAll(async () => {
    await owner?.end().catch(() => undefined);
    await db?.drop();
  }, 60_000);

  /** Every statement inside a transaction rolled back: privileges are checked before any row or constraint. */
  async function matrixOf(app: DatabaseApp): Promise<Matrix> {
    const client = new Client({ connectionString: db.appUrl(app) });
    await client.connect();
    try {
      const matrix: Matrix = {};
      for (const table of tables) {
        const column = firstColumn.get(table)!;
        const statements: Record<TablePrivilege, string> = {
          SELECT: `SELECT 1 FROM ${table} LIMIT 0`,
          INSERT: `INSERT INTO ${table} DEFAULT VALUES`,
          UPDATE: `UPDATE ${table} SET ${column} = NULL WHERE false`,
          DELETE: `DELETE FROM ${table} WHERE false`,
        };
        matrix[table] = {} as Record<TablePrivilege, Outcome>;
        for (const [privilege, sql] of Object.entries(statements) as Array<[TablePrivilege, string]>) {
          await client.query('BEGIN');
          const error = await client.query(sql).then(() => null, (e: { code?: string }) => e);
          await client.query('ROLLBACK');
          matrix[table][privilege] = error?.code === '42501' ? 'refused' : 'ok';
        }
      }
      return matrix;
    } finally {
      await client.end();
    }
  }

  it.each([...DATABASE_APPS])('%s may do to each table exactly what TABLE_GRANTS lists, and nothing else', async (app) => {
    const expected: Matrix = {};
    for (const table of tables) {
      const granted = TABLE_GRANTS[table]?.[app] ?? [];
      expected[table] = Object.fromEntries((['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const).map((p) => [p, granted.includes(p) ? 'ok' : 'refused'])) as Record<TablePrivilege, Outcome>;
    }
    expect(await matrixOf(app)).toEqual(expected);
  }, 60_000);

  it('spells out the security model: who writes what (a hand-written copy of the table, so a change to the map is a reviewed change here too)', async () => {
    const writers: Record<string, string[]> = {};
    for (const table of tables) {
      writers[table] = DATABASE_APPS.filter((app) => (TABLE_GRANTS[table]?.[app] ?? []).some((p) => p !== 'SELECT')).sort();
    }
    expect(writers).toEqual({
      bus_client: ['api', 'bus-router'],
      bus_delivered_message: ['api'],
      bus_idempotency_key: ['api'],
      caldera_bridge_sent_link: ['caldera-bridge'],
      dead_letter: ['api', 'result-consumer'],
      detection_result: ['api', 'result-consumer'],
      detection_task: ['api', 'caldera-consumer', 'dispatcher', 'result-consumer'],
      execution: ['api', 'caldera-consumer', 'dispatcher', 'result-consumer'],
      // every verdict change is recorded by whoever rolls the verdict up (issue 15)
      execution_verdict_change: ['api', 'dispatcher', 'result-consumer'],
      login_failure: ['api'],
      operation: ['api', 'caldera-consumer'],
      schema_migrations: [],
    });
    // only the api deletes, and only its own bus records
    const deleters = tables.filter((t) => DATABASE_APPS.some((app) => TABLE_GRANTS[t]?.[app]?.includes('DELETE')));
    expect(deleters).toEqual(['bus_client', 'bus_delivered_message', 'bus_idempotency_key', 'login_failure']);
  });

  it('lets an app use a serial column\'s sequence only where it may insert (the api\'s login_failure)', async () => {
    const api = new Client({ connectionString: db.appUrl('api') });
    await api.connect();
    try {
      await api.query('BEGIN');
      const { rows } = await api.query(`INSERT INTO login_failure (kind, key) VALUES ('client', 'probe') RETURNING id`);
      await api.query('ROLLBACK');
      expect(rows).toHaveLength(1);
    } finally {
      await api.end();
    }
  });

  it('no app role creates objects, and a role that is no app\'s cannot even connect', async () => {
    for (const app of DATABASE_APPS) {
      const client = new Client({ connectionString: db.appUrl(app) });
      await client.connect();
      const error = await client.query('CREATE TABLE probe (id int)').then(() => null, (e: { code?: string }) => e);
      await client.end();
      expect([app, error?.code]).toEqual([app, '42501']);
    }
    const stranger = `${db.namespace}_stranger`;
    await owner.query(`CREATE ROLE ${stranger} LOGIN`).catch(async () => {
      // the owner may not create roles: the server's administrator does, as provisioning would
      const admin = new Client({ connectionString: `${TEST_DATABASE_SERVER}/postgres` });
      await admin.connect();
      await admin.query(`CREATE ROLE ${stranger} LOGIN`);
      await admin.end();
    });
    try {
      const client = new Client({ connectionString: withCredentials(db.url, stranger, 'x') });
      const error = await client.connect().then(() => null, (e: { code?: string }) => e);
      await client.end().catch(() => undefined);
      expect(error?.code).toBe('42501'); // permission denied for database
    } finally {
      const admin = new Client({ connectionString: `${TEST_DATABASE_SERVER}/postgres` });
      await admin.connect();
      await admin.query(`DROP ROLE IF EXISTS ${stranger}`);
      await admin.end();
    }
  });

  it('applyGrants revokes what the map no longer lists, and refuses a table the map does not name, saying what to add', async () => {
    const dispatcher = databaseRoleOf('dispatcher', { namespace: db.namespace });
    await owner.query(`GRANT DELETE ON operation TO ${dispatcher}`);
    await applyGrants(db.ownerUrl, { namespace: db.namespace });
    expect((await matrixOf('dispatcher'))['operation'].DELETE).toBe('refused');

    await owner.query('CREATE TABLE new_feature (id int)');
    try {
      await expect(applyGrants(db.ownerUrl, { namespace: db.namespace })).rejects.toThrow(
        "table(s) new_feature have no entry in TABLE_GRANTS (libs/persistence/src/grants.ts). Add one per table, naming each app that uses it and what it does, e.g. new_feature: { api: ['SELECT', 'INSERT'] }",
      );
    } finally {
      await owner.query('DROP TABLE new_feature');
    }
  }, 60_000);
});
