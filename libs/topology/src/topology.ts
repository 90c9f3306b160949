import {
  BindingDef,
  ExchangeDef,
  PermissionDef,
  QueueDef,
  Topology,
  TopicPermissionDef,
  UserDef,
} from './model';
import {
  CHECKING_BINDINGS,
  CHECKING_DLX,
  CHECKING_EXCHANGE,
  CHECKING_QUEUES,
  CHECKING_VHOST,
  MAX_CONNECTIONS_PER_USER,
  SOAR_EXCHANGES,
  SOAR_RETRY_DEAD_LETTER_QUEUE,
  SOAR_RETRY_QUEUE,
  SOAR_VHOST,
  clientQueues,
  deadLetterQueueOf,
} from './names';

/**
 * Options that only tests set: the broker is shared, and users are global to it, so a test run gets its own
 * vhosts and users by a namespace. Exchange and queue names never change.
 */
export interface TopologyOptions {
  namespace?: string;
}

export const CHECKING_USERS = {
  admin: 'caldera_admin',
  publisher: 'caldera_publisher',
  consumer: 'checking_consumer',
  dispatcher: 'checking_dispatcher',
  worker: 'checking_worker',
  resultConsumer: 'checking_result_consumer',
  monitor: 'monitor_user',
} as const;

export const SOAR_USERS = {
  admin: 'soar_admin',
  api: 'soar_api',
  router: 'soar_router',
} as const;

export const NOTHING = '^$';
const QUEUE_MESSAGE_TTL_MS = 3_600_000;
const QUEUE_MAX_LENGTH = 10_000;
/** deliveries (incl. redeliveries after a consumer died holding it) before a message is dead-lettered */
const QUEUE_DELIVERY_LIMIT = 10;
const DEAD_LETTER_QUEUE_MAX_LENGTH = 1_000_000;
/** a client slug as it appears in a queue name */
const CLIENT = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
/**
 * a client's own queues, and only those: never a name of the bus's own (`soar-broadcast` is an exchange and would be
 * client `soar`'s broadcast queue; `soar-router-retry-dlq` looks like a dead-letter queue). The api refuses `soar-…` ids.
 */
const NOT_ROUTER = '(?!soar-)';
const CLIENT_QUEUES = `^${NOT_ROUTER}${CLIENT}-(outbox|broadcast|inbox|dlq)$`;

export const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
export const exactly = (...names: string[]) =>
  names.length === 1 ? `^${escapeRegex(names[0])}$` : `^(${names.map(escapeRegex).join('|')})$`;

/** `caldera_publisher` → `CALDERA_PUBLISHER_PASSWORD` */
export const passwordEnvOf = (user: string) => `${user.toUpperCase()}_PASSWORD`;

export interface Namer {
  vhost(name: string): string;
  user(name: string): string;
}

export function namer(options: TopologyOptions = {}): Namer {
  const ns = options.namespace;
  return {
    vhost: (name) => (ns ? `${name}.${ns}` : name),
    user: (name) => (ns ? `${ns}_${name}` : name),
  };
}

function user(n: Namer, name: string, tags: string[], limited: boolean): UserDef {
  return {
    name: n.user(name),
    passwordEnv: passwordEnvOf(name),
    tags,
    maxConnections: limited ? MAX_CONNECTIONS_PER_USER : undefined,
  };
}

const exchange = (vhost: string, name: string, type: ExchangeDef['type']): ExchangeDef => ({
  name,
  vhost,
  type,
  durable: true,
  auto_delete: false,
  internal: false,
  arguments: {},
});

/** Quorum queues everywhere: `ha-mode` mirroring is gone in RabbitMQ 4, and the type can't be set by policy. */
export const quorumQueue = (vhost: string, name: string, extra: Record<string, unknown> = {}): QueueDef => ({
  name,
  vhost,
  durable: true,
  auto_delete: false,
  arguments: { 'x-queue-type': 'quorum', ...extra },
});

const binding = (vhost: string, source: string, queue: string, routingKey: string): BindingDef => ({
  source,
  vhost,
  destination: queue,
  destination_type: 'queue',
  routing_key: routingKey,
  arguments: {},
});

/**
 * The policy every working queue gets: bounded, publishers nacked when full (never a silent drop of the
 * oldest), expired and rejected messages dead-lettered at-least-once, and a message whose consumer keeps dying
 * on it dead-lettered after a few redeliveries instead of crashing consumers forever.
 */
export const workingQueuePolicy = (deadLetterExchange: string, deadLetterRoutingKey?: string) => ({
  'max-length': QUEUE_MAX_LENGTH,
  overflow: 'reject-publish',
  'message-ttl': QUEUE_MESSAGE_TTL_MS,
  'dead-letter-exchange': deadLetterExchange,
  ...(deadLetterRoutingKey ? { 'dead-letter-routing-key': deadLetterRoutingKey } : {}),
  'dead-letter-strategy': 'at-least-once',
  'delivery-limit': QUEUE_DELIVERY_LIMIT,
});

/** Dead-letter queues keep everything until an operator looks: no TTL, and no silent drop when full. */
export const deadLetterQueuePolicy = () => ({
  'max-length': DEAD_LETTER_QUEUE_MAX_LENGTH,
  overflow: 'reject-publish',
});

function checkingVhost(n: Namer): Omit<Topology, 'vhosts' | 'users'> {
  const vhost = n.vhost(CHECKING_VHOST);
  const U = CHECKING_USERS;
  const queues = Object.values(CHECKING_QUEUES);
  const perm = (u: string, configure: string, write: string, read: string): PermissionDef => ({
    user: n.user(u),
    vhost,
    configure,
    write,
    read,
  });
  const topic = (u: string, exchangeName: string, write: string): TopicPermissionDef => ({
    user: n.user(u),
    vhost,
    exchange: exchangeName,
    write,
    read: NOTHING,
  });

  return {
    // the DLX is a topic exchange so that topic permissions can pin who dead-letters what
    exchanges: [exchange(vhost, CHECKING_EXCHANGE, 'topic'), exchange(vhost, CHECKING_DLX, 'topic')],
    queues: [...queues.map((q) => quorumQueue(vhost, q)), ...queues.map((q) => quorumQueue(vhost, deadLetterQueueOf(q)))],
    bindings: [
      ...CHECKING_BINDINGS.map((b) => binding(vhost, CHECKING_EXCHANGE, b.queue, b.routingKey)),
      // a dead letter is routed by the name of the queue it left, so each DLQ holds exactly one queue's rejects
      ...queues.map((q) => binding(vhost, CHECKING_DLX, deadLetterQueueOf(q), q)),
    ],
    policies: [
      // one policy per working queue, because each names its own dead-letter routing key
      ...queues.map((q) => ({
        name: q,
        vhost,
        pattern: exactly(q),
        'apply-to': 'queues' as const,
        priority: 0,
        definition: workingQueuePolicy(CHECKING_DLX, q),
      })),
      {
        name: 'caldera.checking.dlq',
        vhost,
        pattern: '^caldera\\.checking\\..+\\.dlq$',
        'apply-to': 'queues',
        priority: 0,
        definition: deadLetterQueuePolicy(),
      },
    ],
    permissions: [
      perm(U.admin, '.*', '.*', '.*'),
      perm(U.publisher, NOTHING, exactly(CHECKING_EXCHANGE), NOTHING),
      // consumers may write to the DLX only to dead-letter a bad message with its reason in a header
      perm(U.consumer, NOTHING, exactly(CHECKING_DLX), exactly(CHECKING_QUEUES.instructions)),
      perm(U.dispatcher, NOTHING, exactly(CHECKING_EXCHANGE), NOTHING),
      perm(U.worker, NOTHING, exactly(CHECKING_EXCHANGE, CHECKING_DLX), exactly(CHECKING_QUEUES.apiTasks, CHECKING_QUEUES.agentTasks)),
      // the result consumer also drains every dead-letter queue into PostgreSQL, where operators list and replay them
      perm(
        U.resultConsumer,
        NOTHING,
        exactly(CHECKING_DLX),
        exactly(CHECKING_QUEUES.apiResponses, CHECKING_QUEUES.agentResponses, ...queues.map(deadLetterQueueOf)),
      ),
      // reading a queue over AMQP consumes it: the monitor sees the vhost through the management API only
      perm(U.monitor, NOTHING, NOTHING, NOTHING),
    ],
    // write on a topic exchange would allow any routing key: these pin each user to its own keys
    topicPermissions: [
      topic(U.publisher, CHECKING_EXCHANGE, '^caldera\\.execution\\.result$'),
      topic(U.dispatcher, CHECKING_EXCHANGE, '^checking\\.(api|agent)\\.task$'),
      topic(U.worker, CHECKING_EXCHANGE, '^checking\\.(api|agent)\\.response$'),
      topic(U.consumer, CHECKING_DLX, exactly(CHECKING_QUEUES.instructions)),
      topic(U.worker, CHECKING_DLX, exactly(CHECKING_QUEUES.apiTasks, CHECKING_QUEUES.agentTasks)),
      topic(U.resultConsumer, CHECKING_DLX, exactly(CHECKING_QUEUES.apiResponses, CHECKING_QUEUES.agentResponses)),
    ],
  };
}

function soarVhost(n: Namer): Omit<Topology, 'vhosts' | 'users'> {
  const vhost = n.vhost(SOAR_VHOST);
  const X = SOAR_EXCHANGES;
  const U = SOAR_USERS;
  const perm = (u: string, configure: string, write: string, read: string): PermissionDef => ({
    user: n.user(u),
    vhost,
    configure,
    write,
    read,
  });
  return {
    exchanges: [
      exchange(vhost, X.send, 'direct'),
      exchange(vhost, X.notify, 'direct'),
      exchange(vhost, X.publish, 'topic'),
      exchange(vhost, X.broadcast, 'fanout'),
      exchange(vhost, X.direct, 'direct'),
      exchange(vhost, X.dlx, 'direct'),
      exchange(vhost, X.retry, 'fanout'),
    ],
    // per-client queues are created with each client (see clientTopology); the router's retry queue is shared
    queues: [quorumQueue(vhost, SOAR_RETRY_QUEUE), quorumQueue(vhost, SOAR_RETRY_DEAD_LETTER_QUEUE)],
    bindings: [
      binding(vhost, X.retry, SOAR_RETRY_QUEUE, ''),
      binding(vhost, X.dlx, SOAR_RETRY_DEAD_LETTER_QUEUE, SOAR_RETRY_QUEUE),
    ],
    policies: [
      {
        name: 'soar.client-queues',
        vhost,
        pattern: `^${CLIENT}-(outbox|broadcast|inbox)$`,
        'apply-to': 'queues',
        priority: 0,
        definition: workingQueuePolicy(X.dlx),
      },
      {
        name: SOAR_RETRY_QUEUE,
        vhost,
        pattern: exactly(SOAR_RETRY_QUEUE),
        'apply-to': 'queues',
        priority: 0,
        definition: workingQueuePolicy(X.dlx, SOAR_RETRY_QUEUE),
      },
      {
        // also the retry queue's own dead-letter queue, `soar-router-retry-dlq`
        name: 'soar.client-dlq',
        vhost,
        pattern: `^${CLIENT}-dlq$`,
        'apply-to': 'queues',
        priority: 0,
        definition: deadLetterQueuePolicy(),
      },
    ],
    permissions: [
      // the seed's administrator provisions both vhosts (no app uses it)
      perm(CHECKING_USERS.admin, '.*', '.*', '.*'),
      // the api's management-API user: it declares and deletes a client's four queues and binds them to the bus's
      // exchanges, nothing else. Declaring a queue whose dead-letter exchange is soar-dlx needs write on soar-dlx
      // and read on the queue; binding needs write on the queue and read on the exchange.
      perm(
        U.admin,
        CLIENT_QUEUES,
        `^(${NOT_ROUTER}${CLIENT}-(outbox|broadcast|inbox|dlq)|${escapeRegex(X.dlx)})$`,
        `^(${NOT_ROUTER}${CLIENT}-(outbox|broadcast|inbox|dlq)|${[X.send, X.notify, X.publish, X.broadcast, X.direct, X.dlx].map(escapeRegex).join('|')})$`,
      ),
      // the api writes only into the bus's front exchanges and reads inboxes (receive) and dead letters (replay)
      perm(U.api, NOTHING, exactly(X.send, X.notify, X.direct), `^${CLIENT}-(inbox|dlq)$`),
      // the router moves outbox/broadcast into each destination inbox (direct), parks a copy a full inbox refused
      // (retry), dead-letters (dlx), and pushes inboxes to webhooks
      perm(
        U.router,
        NOTHING,
        exactly(X.direct, X.retry, X.dlx),
        `^(${CLIENT}-(outbox|broadcast|inbox)|${escapeRegex(SOAR_RETRY_QUEUE)})$`,
      ),
      perm(CHECKING_USERS.monitor, NOTHING, NOTHING, NOTHING),
    ],
    topicPermissions: [],
  };
}

/** The whole broker topology: both vhosts, every user, permission, policy and limit. */
export function buildTopology(options: TopologyOptions = {}): Topology {
  const n = namer(options);
  const checking = checkingVhost(n);
  const soar = soarVhost(n);
  const C = CHECKING_USERS;
  const S = SOAR_USERS;
  return {
    vhosts: [n.vhost(CHECKING_VHOST), n.vhost(SOAR_VHOST)],
    users: [
      user(n, C.admin, ['policymaker'], false),
      user(n, C.publisher, [], true),
      user(n, C.consumer, [], true),
      user(n, C.dispatcher, [], true),
      user(n, C.worker, [], true),
      user(n, C.resultConsumer, [], true),
      user(n, C.monitor, ['monitoring'], false),
      // `management`: the management API in the vhosts it has permissions in, and no policies
      user(n, S.admin, ['management'], false),
      user(n, S.api, [], true),
      user(n, S.router, [], true),
    ],
    exchanges: [...checking.exchanges, ...soar.exchanges],
    queues: [...checking.queues, ...soar.queues],
    bindings: [...checking.bindings, ...soar.bindings],
    policies: [...checking.policies, ...soar.policies],
    permissions: [...checking.permissions, ...soar.permissions],
    topicPermissions: [...checking.topicPermissions, ...soar.topicPermissions],
  };
}

/**
 * A bus client's own objects in `/soar`: outbox, broadcast, inbox and dead-letter queue, and their bindings.
 * The inbox names its dead-letter routing key itself: its messages arrive under their topic, not the client id.
 */
export function clientTopology(clientId: string, subscription: string, options: TopologyOptions = {}) {
  const vhost = namer(options).vhost(SOAR_VHOST);
  const q = clientQueues(clientId);
  const dl = { 'x-dead-letter-exchange': SOAR_EXCHANGES.dlx, 'x-dead-letter-routing-key': clientId };
  // one router replica at a time reads a sender's queues, so replicas never duplicate or reorder its messages
  const singleActiveConsumer = { 'x-single-active-consumer': true };
  return {
    vhost,
    queues: [
      quorumQueue(vhost, q.outbox, { ...dl, ...singleActiveConsumer }),
      quorumQueue(vhost, q.broadcast, { ...dl, ...singleActiveConsumer }),
      quorumQueue(vhost, q.inbox, dl),
      quorumQueue(vhost, q.deadLetter),
    ],
    bindings: [
      binding(vhost, SOAR_EXCHANGES.send, q.outbox, clientId),
      binding(vhost, SOAR_EXCHANGES.notify, q.broadcast, clientId),
      binding(vhost, SOAR_EXCHANGES.publish, q.inbox, subscription),
      binding(vhost, SOAR_EXCHANGES.broadcast, q.inbox, ''),
      binding(vhost, SOAR_EXCHANGES.direct, q.inbox, clientId),
      binding(vhost, SOAR_EXCHANGES.dlx, q.deadLetter, clientId),
    ],
  };
}
