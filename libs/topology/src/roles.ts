import {
  CHECKING_DLX,
  CHECKING_EXCHANGE,
  CHECKING_QUEUES,
  CHECKING_VHOST,
  SOAR_EXCHANGES,
  SOAR_RETRY_QUEUE,
  SOAR_VHOST,
  deadLetterQueueOf,
} from './names';
import { CHECKING_USERS, SOAR_USERS, TopologyOptions, namer, passwordEnvOf } from './topology';

export const APP_NAMES = [
  'api',
  'bus-router',
  'caldera-consumer',
  'dispatcher',
  'api-worker',
  'agent-worker',
  'result-consumer',
  'caldera-bridge',
] as const;
export type AppName = (typeof APP_NAMES)[number];

/** What an app is on the broker: who it connects as, where, and which objects it relies on. */
export interface AppRole {
  app: AppName;
  user: string;
  vhost: string;
  passwordEnv: string;
  /** exchanges the app publishes to; checked passively at start */
  exchanges: string[];
  /** queues the app consumes; checked passively at start */
  queues: string[];
}

const ROLE_TABLE: Record<AppName, { user: string; vhost: string; exchanges: string[]; queues: string[] }> = {
  api: {
    user: SOAR_USERS.api,
    vhost: SOAR_VHOST,
    exchanges: [SOAR_EXCHANGES.send, SOAR_EXCHANGES.notify, SOAR_EXCHANGES.direct],
    queues: [],
  },
  'bus-router': {
    user: SOAR_USERS.router,
    vhost: SOAR_VHOST,
    exchanges: [SOAR_EXCHANGES.direct, SOAR_EXCHANGES.retry, SOAR_EXCHANGES.dlx],
    queues: [SOAR_RETRY_QUEUE],
  },
  'caldera-consumer': {
    user: CHECKING_USERS.consumer,
    vhost: CHECKING_VHOST,
    exchanges: [CHECKING_DLX],
    queues: [CHECKING_QUEUES.instructions],
  },
  dispatcher: {
    user: CHECKING_USERS.dispatcher,
    vhost: CHECKING_VHOST,
    exchanges: [CHECKING_EXCHANGE],
    queues: [],
  },
  'api-worker': {
    user: CHECKING_USERS.worker,
    vhost: CHECKING_VHOST,
    exchanges: [CHECKING_EXCHANGE, CHECKING_DLX],
    queues: [CHECKING_QUEUES.apiTasks],
  },
  'agent-worker': {
    user: CHECKING_USERS.worker,
    vhost: CHECKING_VHOST,
    exchanges: [CHECKING_EXCHANGE, CHECKING_DLX],
    queues: [CHECKING_QUEUES.agentTasks],
  },
  'result-consumer': {
    user: CHECKING_USERS.resultConsumer,
    vhost: CHECKING_VHOST,
    exchanges: [CHECKING_DLX],
    // and the five dead-letter queues, which it drains into PostgreSQL
    queues: [CHECKING_QUEUES.apiResponses, CHECKING_QUEUES.agentResponses, ...Object.values(CHECKING_QUEUES).map(deadLetterQueueOf)],
  },
  // polls an unpatched Caldera's REST API and publishes what a patched one would, as Caldera's own user
  'caldera-bridge': {
    user: CHECKING_USERS.publisher,
    vhost: CHECKING_VHOST,
    exchanges: [CHECKING_EXCHANGE],
    queues: [],
  },
};

export function roleOf(app: AppName, options: TopologyOptions = {}): AppRole {
  const row = ROLE_TABLE[app];
  const n = namer(options);
  return {
    app,
    user: n.user(row.user),
    vhost: n.vhost(row.vhost),
    passwordEnv: passwordEnvOf(row.user),
    exchanges: [...row.exchanges],
    queues: [...row.queues],
  };
}
