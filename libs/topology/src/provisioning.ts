import { passwordMatchesHash } from './definitions';
import { ManagementApiError, ManagementClient, tagList } from './management-client';
import { Topology } from './model';
import { buildTopology } from './topology';

/**
 * Applies a topology to a broker through the management HTTP API, idempotently: it reads the current state,
 * plans only the differences, refuses (before writing anything) when an existing object cannot be made to match
 * (a queue's type or arguments, an exchange's type), then applies the plan. Vhosts, users, permissions, topic
 * permissions and user limits are written by the bootstrap admin; exchanges, policies, queues and bindings by the
 * vhost's own admin user (`caldera_admin`, `soar_admin`), as DESIGN.md says.
 *
 * It never deletes anything it did not create in the same run, and never logs a password.
 *
 * This lives in the library (not in `tools/provision`) because `@purple/testing` provisions a namespaced
 * topology per test run, and libraries may not depend on tools.
 */

export interface ProvisionOptions {
  /** e.g. `http://127.0.0.1:15672` */
  managementUrl: string;
  /** the bootstrap admin (an `administrator`) that creates vhosts and users */
  adminUser: string;
  adminPassword: string;
  /** each user's password, keyed by the user's name in the topology (see {@link passwordsFromEnv}) */
  passwords: Record<string, string>;
  /** tests only: suffix for vhosts and prefix for users */
  namespace?: string;
  /** defaults to `buildTopology({ namespace })` */
  topology?: Topology;
  /** one line per change; never given a password */
  log?: (line: string) => void;
  /** per management API request */
  timeoutMs?: number;
}

export type ChangeKind =
  | 'vhost'
  | 'user'
  | 'permission'
  | 'topic-permission'
  | 'user-limit'
  | 'exchange'
  | 'policy'
  | 'queue'
  | 'binding';

export interface Change {
  action: 'create' | 'update';
  kind: ChangeKind;
  /** the object, e.g. a queue name, `user → exchange`, `exchange → queue (key)` */
  name: string;
  vhost?: string;
  /** what differed, for updates (never a value that could be secret) */
  detail?: string;
  /** who performed it */
  as: string;
}

export interface ProvisionReport {
  changes: Change[];
  /** things found that the topology does not define; left as they are */
  warnings: string[];
}

/** A provisioning failure with a one-line message that is safe to print. */
export class ProvisionError extends Error {
  override readonly name = 'ProvisionError';
}

/** A user without a password: the message names the environment variables to set. */
export class MissingPasswordError extends ProvisionError {
  constructor(readonly variables: string[]) {
    super(`missing password${variables.length > 1 ? 's' : ''}: set ${variables.join(', ')}`);
  }
}

/** Each topology user's password from `<USER>_PASSWORD`, keyed by user name; throws naming what is missing. */
export function passwordsFromEnv(topology: Topology, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const passwords: Record<string, string> = {};
  const missing = new Set<string>();
  for (const u of topology.users) {
    const value = env[u.passwordEnv];
    if (value) passwords[u.name] = value;
    else missing.add(u.passwordEnv);
  }
  if (missing.size) throw new MissingPasswordError([...missing]);
  return passwords;
}

/** The user that declares a vhost's objects: full permissions there and a management tag that allows policies. */
export function vhostAdminOf(topology: Topology, vhost: string): string {
  const full = topology.permissions.filter(
    (p) => p.vhost === vhost && p.configure === '.*' && p.write === '.*' && p.read === '.*',
  );
  const admin = full.find((p) =>
    topology.users.some((u) => u.name === p.user && (u.tags.includes('policymaker') || u.tags.includes('administrator'))),
  );
  if (!admin) throw new ProvisionError(`the topology has no admin user for vhost ${vhost}`);
  return admin.user;
}

/** JSON with object keys sorted, for order-insensitive comparison */
const canon = (v: unknown): string =>
  JSON.stringify(v, (_k, value) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : value,
  );
const same = (a: unknown, b: unknown) => canon(a ?? {}) === canon(b ?? {});

interface Step {
  change: Change;
  run: () => Promise<void>;
}

const describeChange = (c: Change) =>
  `${c.action} ${c.kind} ${c.name}${c.vhost ? ` in ${c.vhost}` : ''}${c.detail ? ` (${c.detail})` : ''} as ${c.as}`;

/** The bootstrap admin's client, checked: reachable, credentials accepted, `administrator`. */
async function bootstrapAdmin(options: {
  managementUrl: string;
  adminUser: string;
  adminPassword: string;
  timeoutMs?: number;
}): Promise<ManagementClient> {
  let admin: ManagementClient;
  try {
    admin = new ManagementClient({
      url: options.managementUrl,
      username: options.adminUser,
      password: options.adminPassword,
      timeoutMs: options.timeoutMs,
    });
  } catch {
    throw new ProvisionError(`invalid management API URL: ${JSON.stringify(options.managementUrl.replace(/\/\/[^@/]*@/, '//'))}`);
  }
  let tags: string[];
  try {
    tags = tagList((await admin.whoami()).tags);
  } catch (err) {
    if (err instanceof ManagementApiError && err.status === 401) {
      throw new ProvisionError(
        `the management API at ${admin.url} refused the bootstrap admin '${options.adminUser}' (${err.status} ${err.reason}): check RABBITMQ_ADMIN_USER / RABBITMQ_ADMIN_PASSWORD`,
      );
    }
    throw new ProvisionError(err instanceof Error ? err.message : String(err));
  }
  if (!tags.includes('administrator')) {
    throw new ProvisionError(
      `the bootstrap admin '${options.adminUser}' is not an administrator (tags: ${tags.join(',') || 'none'}), so it cannot create vhosts and users`,
    );
  }
  return admin;
}

const errorLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');

export async function provision(options: ProvisionOptions): Promise<ProvisionReport> {
  const log = options.log ?? (() => undefined);
  const topology = options.topology ?? buildTopology({ namespace: options.namespace });
  const { passwords } = options;

  const missing = topology.users.filter((u) => !passwords[u.name]).map((u) => u.passwordEnv);
  if (missing.length) throw new MissingPasswordError([...new Set(missing)]);

  const admin = await bootstrapAdmin(options);
  const adminName = options.adminUser;
  const vhostAdmins = new Map(topology.vhosts.map((v) => [v, vhostAdminOf(topology, v)]));
  const clients = new Map<string, ManagementClient>();
  const clientOf = (user: string) => {
    let c = clients.get(user);
    if (!c) {
      c = new ManagementClient({ url: options.managementUrl, username: user, password: passwords[user], timeoutMs: options.timeoutMs });
      clients.set(user, c);
    }
    return c;
  };

  const steps: Step[] = [];
  const conflicts: string[] = [];
  const warnings: string[] = [];
  const step = (change: Change, run: () => Promise<void>) => steps.push({ change, run });

  // ---- read the current state and plan -------------------------------------------------------------------
  const readAndPlan = async () => {
    const existingVhosts = new Set<string>();
    for (const vhost of topology.vhosts) {
      if (await admin.getVhost(vhost)) {
        existingVhosts.add(vhost);
        continue;
      }
      const adminHasPermission = topology.permissions.some((p) => p.vhost === vhost && p.user === adminName);
      step({ action: 'create', kind: 'vhost', name: vhost, as: adminName }, async () => {
        await admin.putVhost(vhost, { description: 'provisioned by purple-backbone tools/provision' });
        // the management API grants the creating user full permissions on a new vhost; it does not need them
        // (the vhost's own admin declares its objects), so the grant this run caused is taken back
        if (!adminHasPermission) await admin.deletePermission(vhost, adminName, { ignoreMissing: true });
      });
    }

    const existingUsers = new Set<string>();
    for (const u of topology.users) {
      const info = await admin.getUser(u.name);
      const wanted = { tags: [...u.tags], password: passwords[u.name] };
      if (!info) {
        step({ action: 'create', kind: 'user', name: u.name, detail: `tags: ${u.tags.join(',') || 'none'}`, as: adminName }, () =>
          admin.putUser(u.name, wanted),
        );
        continue;
      }
      existingUsers.add(u.name);
      const differs: string[] = [];
      if (canon(tagList(info.tags)) !== canon([...u.tags].sort())) differs.push('tags');
      if (!passwordMatchesHash(passwords[u.name], info.password_hash, info.hashing_algorithm)) differs.push('password');
      if (differs.length) {
        step({ action: 'update', kind: 'user', name: u.name, detail: differs.join(', '), as: adminName }, () =>
          admin.putUser(u.name, wanted),
        );
      }
    }

    for (const p of topology.permissions) {
      const cur =
        existingVhosts.has(p.vhost) && existingUsers.has(p.user) ? await admin.getPermission(p.vhost, p.user) : undefined;
      if (cur && cur.configure === p.configure && cur.write === p.write && cur.read === p.read) continue;
      step(
        { action: cur ? 'update' : 'create', kind: 'permission', name: p.user, vhost: p.vhost, as: adminName },
        () => admin.putPermission(p),
      );
    }
    for (const vhost of existingVhosts) {
      const defined = new Set(topology.permissions.filter((p) => p.vhost === vhost).map((p) => p.user));
      for (const p of await admin.listVhostPermissions(vhost)) {
        if (!defined.has(p.user)) {
          warnings.push(`user ${p.user} has permissions in ${vhost} that the topology does not define (left as is)`);
        }
      }
    }

    const topicSeen = new Map<string, Awaited<ReturnType<ManagementClient['getTopicPermissions']>>>();
    for (const tp of topology.topicPermissions) {
      const key = `${tp.vhost}\0${tp.user}`;
      if (!topicSeen.has(key)) {
        topicSeen.set(
          key,
          existingVhosts.has(tp.vhost) && existingUsers.has(tp.user) ? await admin.getTopicPermissions(tp.vhost, tp.user) : [],
        );
      }
      const cur = topicSeen.get(key)?.find((x) => x.exchange === tp.exchange);
      if (cur && cur.write === tp.write && cur.read === tp.read) continue;
      step(
        {
          action: cur ? 'update' : 'create',
          kind: 'topic-permission',
          name: `${tp.user} → ${tp.exchange}`,
          vhost: tp.vhost,
          as: adminName,
        },
        () => admin.putTopicPermission(tp),
      );
    }
    for (const [key, current] of topicSeen) {
      const [vhost, user] = key.split('\0');
      for (const x of current) {
        if (!topology.topicPermissions.some((tp) => tp.vhost === vhost && tp.user === user && tp.exchange === x.exchange)) {
          warnings.push(`user ${user} has a topic permission on ${x.exchange} in ${vhost} that the topology does not define (left as is)`);
        }
      }
    }

    for (const u of topology.users) {
      const limits = existingUsers.has(u.name) ? await admin.getUserLimits(u.name) : {};
      if (u.maxConnections === undefined) {
        if (limits['max-connections'] !== undefined) {
          warnings.push(`user ${u.name} has max-connections ${limits['max-connections']}, which the topology does not set (left as is)`);
        }
        continue;
      }
      if (limits['max-connections'] === u.maxConnections) continue;
      const max = u.maxConnections;
      step(
        {
          action: limits['max-connections'] === undefined ? 'create' : 'update',
          kind: 'user-limit',
          name: `${u.name} max-connections=${max}`,
          as: adminName,
        },
        () => admin.putUserLimit(u.name, 'max-connections', max),
      );
    }

    // ---- the vhosts' own objects, declared by each vhost's admin ------------------------------------------
    for (const vhost of topology.vhosts) {
      const as = vhostAdmins.get(vhost) as string;
      const exists = existingVhosts.has(vhost);
      const declarer = () => clientOf(as);

      const policies = topology.policies.filter((p) => p.vhost === vhost);
      for (const p of policies) {
        const cur = exists ? await admin.getPolicy(vhost, p.name) : undefined;
        if (
          cur &&
          cur.pattern === p.pattern &&
          cur['apply-to'] === p['apply-to'] &&
          cur.priority === p.priority &&
          same(cur.definition, p.definition)
        ) {
          continue;
        }
        step({ action: cur ? 'update' : 'create', kind: 'policy', name: p.name, vhost, as }, () => declarer().putPolicy(p));
      }
      if (exists) {
        for (const cur of await admin.listPolicies(vhost)) {
          if (!policies.some((p) => p.name === cur.name)) {
            warnings.push(`policy ${cur.name} in ${vhost} is not in the topology (left as is); it may compete with the provisioned ones`);
          }
        }
      }

      for (const x of topology.exchanges.filter((e) => e.vhost === vhost)) {
        const cur = exists ? await admin.getExchange(vhost, x.name) : undefined;
        if (!cur) {
          step({ action: 'create', kind: 'exchange', name: x.name, vhost, as }, () => declarer().putExchange(x));
        } else if (
          cur.type !== x.type ||
          cur.durable !== x.durable ||
          cur.auto_delete !== x.auto_delete ||
          cur.internal !== x.internal ||
          !same(cur.arguments, x.arguments)
        ) {
          conflicts.push(
            `exchange ${x.name} in ${vhost} exists as ${describeExchange(cur)} but the topology needs ${describeExchange(x)}; ` +
              `an exchange cannot be changed in place: delete it, then run provisioning again`,
          );
        }
      }

      const existingQueues = new Set<string>();
      for (const q of topology.queues.filter((e) => e.vhost === vhost)) {
        const cur = exists ? await admin.getQueue(vhost, q.name) : undefined;
        if (!cur) {
          step({ action: 'create', kind: 'queue', name: q.name, vhost, detail: String(q.arguments['x-queue-type'] ?? 'classic'), as }, () =>
            declarer().putQueue(q),
          );
          continue;
        }
        existingQueues.add(q.name);
        const wantedType = String(q.arguments['x-queue-type'] ?? 'classic');
        const curType = String(cur.type ?? cur.arguments['x-queue-type'] ?? 'classic');
        const curArgs = { ...cur.arguments, 'x-queue-type': curType };
        const wantedArgs = { ...q.arguments, 'x-queue-type': wantedType };
        if (curType !== wantedType || cur.durable !== q.durable || cur.auto_delete !== q.auto_delete || !same(curArgs, wantedArgs)) {
          conflicts.push(
            `queue ${q.name} in ${vhost} exists as a ${cur.durable ? 'durable' : 'transient'} ${curType} queue with arguments ${canon(cur.arguments)}` +
              ` but the topology needs a ${q.durable ? 'durable' : 'transient'} ${wantedType} queue with arguments ${canon(q.arguments)};` +
              ` a queue's type and arguments cannot be changed in place: move its messages (${cur.messages ?? '?'} now), delete it, then run provisioning again`,
          );
        }
      }

      for (const b of topology.bindings.filter((e) => e.vhost === vhost)) {
        const current = existingQueues.has(b.destination) ? await admin.getBindings(vhost, b.source, b.destination) : [];
        if (current.some((c) => c.routing_key === b.routing_key && same(c.arguments, b.arguments))) continue;
        step(
          {
            action: 'create',
            kind: 'binding',
            name: `${b.source} → ${b.destination} (${JSON.stringify(b.routing_key)})`,
            vhost,
            as,
          },
          () => declarer().createBinding(b),
        );
      }
    }
  };
  try {
    await readAndPlan();
  } catch (err) {
    if (err instanceof ProvisionError) throw err;
    throw new ProvisionError(`reading the broker's current state: ${errorLine(err)}`);
  }

  if (conflicts.length) {
    throw new ProvisionError(`refusing to provision, nothing was changed: ${conflicts.join('; ')}`);
  }
  for (const w of warnings) log(`warning: ${w}`);

  // ---- apply -----------------------------------------------------------------------------------------------
  // order: vhosts, users, permissions, topic permissions, limits, then per vhost policies (so queues get their
  // limits the moment they exist), exchanges, queues, bindings
  const order: ChangeKind[] = ['vhost', 'user', 'permission', 'topic-permission', 'user-limit', 'policy', 'exchange', 'queue', 'binding'];
  steps.sort((a, b) => order.indexOf(a.change.kind) - order.indexOf(b.change.kind));
  const done: Change[] = [];
  for (const s of steps) {
    try {
      await s.run();
    } catch (err) {
      throw new ProvisionError(
        `${describeChange(s.change)} failed after ${done.length} change(s): ${errorLine(err)}`,
      );
    }
    done.push(s.change);
    log(describeChange(s.change));
  }
  log(done.length ? `${done.length} change(s) applied` : 'nothing to change');
  return { changes: done, warnings };
}

function describeExchange(x: { type: string; durable: boolean; auto_delete: boolean; internal: boolean; arguments?: unknown }) {
  return `a ${x.durable ? 'durable' : 'transient'} ${x.type} exchange (auto_delete=${x.auto_delete}, internal=${x.internal}, arguments ${canon(x.arguments ?? {})})`;
}

export interface DeprovisionOptions {
  managementUrl: string;
  adminUser: string;
  adminPassword: string;
  /** required: only a namespaced topology can be removed */
  namespace: string;
  log?: (line: string) => void;
  timeoutMs?: number;
}

/** what `BROKER_NAMESPACE` allows (see @purple/platform) */
export const NAMESPACE_PATTERN = /^[a-z][a-z0-9]{0,15}$/;

/**
 * Removes a namespaced topology (tests): its vhosts (with everything in them) and its users, nothing else.
 * Refuses without a valid namespace, and never touches `/`, `guest`, the bootstrap admin, or any name that does
 * not carry the namespace.
 */
export async function deprovision(options: DeprovisionOptions): Promise<{ removed: string[] }> {
  const { namespace } = options;
  const log = options.log ?? (() => undefined);
  if (!namespace || !NAMESPACE_PATTERN.test(namespace)) {
    throw new ProvisionError(`deprovision needs a namespace matching ${NAMESPACE_PATTERN} (got ${JSON.stringify(namespace)})`);
  }
  const topology = buildTopology({ namespace });
  const vhosts = topology.vhosts.filter((v) => v !== '/' && v.endsWith(`.${namespace}`));
  const users = topology.users
    .map((u) => u.name)
    .filter((u) => u.startsWith(`${namespace}_`) && u !== 'guest' && u !== options.adminUser);
  const admin = await bootstrapAdmin(options);
  const removed: string[] = [];
  for (const v of vhosts) {
    if (await admin.getVhost(v)) {
      await admin.deleteVhost(v, { ignoreMissing: true });
      removed.push(`vhost ${v}`);
      log(`delete vhost ${v}`);
    }
  }
  for (const u of users) {
    if (await admin.getUser(u)) {
      await admin.deleteUser(u, { ignoreMissing: true });
      removed.push(`user ${u}`);
      log(`delete user ${u}`);
    }
  }
  return { removed };
}
