import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { BindingDef, ExchangeDef, PermissionDef, PolicyDef, QueueDef, Topology, TopicPermissionDef } from './model';

/**
 * The topology as a RabbitMQ definitions file (`load_definitions` at boot, or POST /api/definitions), for
 * compose and Kubernetes.
 *
 * Format, as checked against RabbitMQ 3.10.8: `tags` as a list (3.10 also accepts a comma-separated string and
 * exports a list), `password_hash` + `hashing_algorithm`, and per-user `limits` (`{"max-connections": 100}`),
 * which 3.10 imports and exports (it needs the `user_limits` feature flag, on by default since 3.8.10).
 * An import only creates and overwrites, it never deletes: running provisioning afterwards is a no-op.
 */

export const SHA256_HASHING = 'rabbit_password_hashing_sha256';

export interface DefinitionsUser {
  name: string;
  password_hash: string;
  hashing_algorithm: string;
  tags: string[];
  limits: Record<string, number>;
}

export interface Definitions {
  users: DefinitionsUser[];
  vhosts: Array<{ name: string }>;
  permissions: PermissionDef[];
  topic_permissions: TopicPermissionDef[];
  parameters: unknown[];
  global_parameters: unknown[];
  policies: PolicyDef[];
  queues: QueueDef[];
  exchanges: ExchangeDef[];
  bindings: BindingDef[];
}

const ALGORITHMS: Record<string, string> = {
  rabbit_password_hashing_sha256: 'sha256',
  rabbit_password_hashing_sha512: 'sha512',
  rabbit_password_hashing_md5: 'md5',
};

/** RabbitMQ's salted hash: base64(salt (4 bytes) ++ H(salt ++ utf8(password))) */
export function hashPassword(password: string, salt: Buffer = randomBytes(4), algorithm = SHA256_HASHING): string {
  const h = ALGORITHMS[algorithm];
  if (!h) throw new Error(`unsupported hashing algorithm ${algorithm}`);
  const digest = createHash(h).update(Buffer.concat([salt, Buffer.from(password, 'utf8')])).digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

/** Whether `password` is the one behind a stored `password_hash` (using the salt inside it). */
export function passwordMatchesHash(password: string, passwordHash: string, algorithm = SHA256_HASHING): boolean {
  if (!ALGORITHMS[algorithm] || !passwordHash) return false;
  const stored = Buffer.from(passwordHash, 'base64');
  if (stored.length <= 4) return false;
  const candidate = Buffer.from(hashPassword(password, stored.subarray(0, 4), algorithm), 'base64');
  return candidate.length === stored.length && timingSafeEqual(candidate, stored);
}

/**
 * @param passwords each user's password, keyed by the user's name in `topology` (see `passwordsFromEnv`)
 * @throws if a user has no password; the message names the user's environment variable, never a password
 */
export function toDefinitions(topology: Topology, passwords: Record<string, string>): Definitions {
  return {
    users: topology.users.map((u): DefinitionsUser => {
      const password = passwords[u.name];
      if (!password) throw new Error(`no password for user ${u.name}: set ${u.passwordEnv}`);
      return {
        name: u.name,
        password_hash: hashPassword(password),
        hashing_algorithm: SHA256_HASHING,
        tags: [...u.tags],
        limits: u.maxConnections === undefined ? {} : ({ 'max-connections': u.maxConnections } as Record<string, number>),
      };
    }),
    vhosts: topology.vhosts.map((name) => ({ name })),
    permissions: topology.permissions.map((p) => ({ ...p })),
    topic_permissions: topology.topicPermissions.map((p) => ({ ...p })),
    parameters: [],
    global_parameters: [],
    policies: topology.policies.map((p) => ({ ...p, definition: { ...p.definition } })),
    queues: topology.queues.map((q) => ({ ...q, arguments: { ...q.arguments } })),
    exchanges: topology.exchanges.map((x) => ({ ...x, arguments: { ...x.arguments } })),
    bindings: topology.bindings.map((b) => ({ ...b, arguments: { ...b.arguments } })),
  };
}
