/**
 * The topology as data, in the shapes of RabbitMQ's definitions.json, so the same objects feed the
 * management-API provisioning, the `--export` file and the tests.
 */
export interface ExchangeDef {
  name: string;
  vhost: string;
  type: 'topic' | 'direct' | 'fanout' | 'headers';
  durable: true;
  auto_delete: false;
  internal: false;
  arguments: Record<string, unknown>;
}

export interface QueueDef {
  name: string;
  vhost: string;
  durable: true;
  auto_delete: false;
  arguments: Record<string, unknown>;
}

export interface BindingDef {
  source: string;
  vhost: string;
  destination: string;
  destination_type: 'queue';
  routing_key: string;
  arguments: Record<string, unknown>;
}

export interface PolicyDef {
  name: string;
  vhost: string;
  pattern: string;
  'apply-to': 'queues';
  priority: number;
  definition: Record<string, unknown>;
}

export interface PermissionDef {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

export interface TopicPermissionDef {
  user: string;
  vhost: string;
  exchange: string;
  write: string;
  read: string;
}

export interface UserDef {
  name: string;
  /** the environment variable holding this user's password, named after the unprefixed user */
  passwordEnv: string;
  tags: string[];
  /** `max-connections`; undefined for admin users, as the seed */
  maxConnections?: number;
}

export interface Topology {
  vhosts: string[];
  users: UserDef[];
  permissions: PermissionDef[];
  topicPermissions: TopicPermissionDef[];
  exchanges: ExchangeDef[];
  queues: QueueDef[];
  bindings: BindingDef[];
  policies: PolicyDef[];
}
