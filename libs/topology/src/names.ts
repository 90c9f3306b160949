/** Broker object names, exactly as the seed and DESIGN.md give them. */
export const CHECKING_VHOST = '/caldera_checking';
export const SOAR_VHOST = '/soar';

export const CHECKING_EXCHANGE = 'caldera.checking.exchange';
export const CHECKING_DLX = 'caldera.checking.dlx';

export const CHECKING_QUEUES = {
  instructions: 'caldera.checking.instructions',
  apiTasks: 'caldera.checking.api.tasks',
  agentTasks: 'caldera.checking.agent.tasks',
  apiResponses: 'caldera.checking.api.responses',
  agentResponses: 'caldera.checking.agent.responses',
} as const;

export const ROUTING_KEYS = {
  executionResult: 'caldera.execution.result',
  apiTask: 'checking.api.task',
  agentTask: 'checking.agent.task',
  apiResponse: 'checking.api.response',
  agentResponse: 'checking.agent.response',
} as const;

/** Which routing key feeds which queue (the seed's routing table). */
export const CHECKING_BINDINGS: ReadonlyArray<{ queue: string; routingKey: string }> = [
  { queue: CHECKING_QUEUES.instructions, routingKey: ROUTING_KEYS.executionResult },
  { queue: CHECKING_QUEUES.apiTasks, routingKey: ROUTING_KEYS.apiTask },
  { queue: CHECKING_QUEUES.agentTasks, routingKey: ROUTING_KEYS.agentTask },
  { queue: CHECKING_QUEUES.apiResponses, routingKey: ROUTING_KEYS.apiResponse },
  { queue: CHECKING_QUEUES.agentResponses, routingKey: ROUTING_KEYS.agentResponse },
];

/** Every queue has one dead-letter queue, named after it. */
export const deadLetterQueueOf = (queue: string): string => `${queue}.dlq`;

export const SOAR_EXCHANGES = {
  /** api → `<client>-outbox`, routing key = sender's client id */
  send: 'soar-send',
  /** api → `<client>-broadcast`, routing key = sender's client id */
  notify: 'soar-notify',
  /** router → every inbox whose subscription matches the message topic */
  publish: 'soar-publish',
  /** router → every inbox */
  broadcast: 'soar-broadcast',
  /** one client's inbox only (replay from its dead-letter queue), routing key = client id */
  direct: 'soar-direct',
  /** dead letters of a client's queues → `<client>-dlq`, routing key = client id */
  dlx: 'soar-dlx',
  /** router → {@link SOAR_RETRY_QUEUE}: a copy a full inbox refused, parked until its next attempt */
  retry: 'soar-retry',
} as const;

/**
 * The router's copies waiting for a full inbox, one queue for every destination: the router delivers each
 * message to each inbox separately, so a refusal parks only the refused copy here and the sender's queue moves on.
 */
export const SOAR_RETRY_QUEUE = 'soar-router-retry';
/** where a parked copy goes if the retry queue itself gives up on it (TTL, delivery limit), as clients' `-dlq` */
export const SOAR_RETRY_DEAD_LETTER_QUEUE = `${SOAR_RETRY_QUEUE}-dlq`;

/** The queues a bus client owns in `/soar` (the seed's data flow). */
export const clientQueues = (clientId: string) => ({
  outbox: `${clientId}-outbox`,
  broadcast: `${clientId}-broadcast`,
  inbox: `${clientId}-inbox`,
  deadLetter: `${clientId}-dlq`,
});

/** Connection limit for every non-admin user (the seed's table). */
export const MAX_CONNECTIONS_PER_USER = 100;
