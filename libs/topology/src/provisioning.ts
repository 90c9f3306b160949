import { passwordMatchesHash } from './definitions';
import {
  BindingInfo,
  ExchangeInfo,
  ManagementApiError,
  ManagementClient,
  PolicyInfo,
  QueueInfo,
  tagList,
  UserInfo,
} from './management-client';
import { PermissionDef, Topology, TopicPermissionDef } from './model';
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

/** What the broker holds of a topology's objects, read before planning (only what can exist is read). */
export interface BrokerState {
  /** the topology's vhosts that exist */
  vhosts: Set<string>;
  /** the topology's users that exist */
  users: Map<string, UserInfo>;
  /** by `vhost\0user`, where both exist */
  permissions: Map<string, PermissionDef | undefined>;
  /** each existing vhost's users with permissions there */
  vhostPermissionUsers: Map<string, string[]>;
  /** by `vhost\0user` for every pair the topology gives topic permissions ([] where the vhost or user is new) */
  topicPermissions: Map<string, TopicPermissionDef[]>;
  /** the existing users' limits */
  userLimits: Map<string, Record<string, number>>;
  /** by `vhost\0name`, in existing vhosts */
  policies: Map<string, PolicyInfo | undefined>;
  /** every policy of each existing vhost */
  vhostPolicies: Map<string, PolicyInfo[]>;
  /** by `vhost\0name`, in existing vhosts */
  exchanges: Map<string, ExchangeInfo | undefined>;
  /** by `vhost\0name`, in existing vhosts */
  queues: Map<string, QueueInfo | undefined>;
  /** by `vhost\0source\0destination`, for destination queues that exist */
  bindings: Map<string, BindingInfo[]>;
}

const key = (...parts: string[]) => parts.join('\0');

/** Reads what the broker holds of the topology's objects (the bootstrap admin reads everything). */
export async function readBrokerState(admin: ManagementClient, topology: Topology): Promise<BrokerState> {
  const state: BrokerState = {
    vhosts: new Set(),
    users: new Map(),
    permissions: new Map(),
    vhostPermissionUsers: new Map(),
    topicPermissions: new Map(),
    userLimits: new Map(),
    policies: new Map(),
    vhostPolicies: new Map(),
    exchanges: new Map(),
    queues: new Map(),
    bindings: new Map(),
  };
  for (const vhost of topology.vhosts) if (await admin.getVhost(vhost)) state.vhosts.add(vhost);
  for (const u of topology.users) {
    const info = await admin.getUser(u.name);
    if (info) state.users.set(u.name, info);
  }
  const exists = (vhost: string, user: string) => state.vhosts.has(vhost) && state.users.has(user);
  for (const p of topology.permissions) {
    if (exists(p.vhost, p.user)) state.permissions.set(key(p.vhost, p.user), await admin.getPermission(p.vhost, p.user));
  }
  for (const vhost of state.vhosts) {
    state.vhostPermissionUsers.set(vhost, (await admin.listVhostPermissions(vhost)).map((p) => p.user));
  }
  for (const tp of topology.topicPermissions) {
    const k = key(tp.vhost, tp.user);
    if (!state.topicPermissions.has(k)) {
      state.topicPermissions.set(k, exists(tp.vhost, tp.user) ? await admin.getTopicPermissions(tp.vhost, tp.user) : []);
    }
  }
  for (const u of topology.users) if (state.users.has(u.name)) state.userLimits.set(u.name, await admin.getUserLimits(u.name));
  for (const vhost of state.vhosts) {
    for (const p of topology.policies.filter((x) => x.vhost === vhost)) state.policies.set(key(vhost, p.name), await admin.getPolicy(vhost, p.name));
    state.vhostPolicies.set(vhost, await admin.listPolicies(vhost));
    for (const x of topology.exchanges.filter((e) => e.vhost === vhost)) state.exchanges.set(key(vhost, x.name), await admin.getExchange(vhost, x.name));
    for (const q of topology.queues.filter((e) => e.vhost === vhost)) state.queues.set(key(vhost, q.name), await admin.getQueue(vhost, q.name));
    for (const b of topology.bindings.filter((e) => e.vhost === vhost)) {
      const k = key(vhost, b.source, b.destination);
      if (state.queues.get(key(vhost, b.destination)) && !state.bindings.has(k)) {
        state.bindings.set(k, await admin.getBindings(vhost, b.source, b.destination));
      }
    }
  }
  return state;
}

/** One change to make, and how: `run` is given the client of the user the change names in `as`. */
export interface PlannedStep {
  change: Change;
  run: (client: ManagementClient) => Promise<void>;
}

export interface TopologyPlan {
  /** in the order they must be applied */
  steps: PlannedStep[];
  /** existing objects that cannot be made to match: nothing may be applied while there are any */
  conflicts: string[];
  /** things found that the topology does not define; left as they are */
  warnings: string[];
}

/** Kinds the bootstrap admin applies; the others are declared by their vhost's own admin. */
const BOOTSTRAP_KINDS: readonly ChangeKind[] = ['vhost', 'user', 'permission', 'topic-permission', 'user-limit'];

/**
 * order: vhosts, users, permissions, topic permissions, limits, then per vhost policies (so queues get their
 * limits the moment they exist), exchanges, queues, bindings
 */
const APPLY_ORDER: readonly ChangeKind[] = ['vhost', 'user', 'permission', 'topic-permission', 'user-limit', 'policy', 'exchange', 'queue', 'binding'];

/**
 * What to declare so that the broker matches the topology: only the differences from `state`, with the conflicts
 * that forbid applying anything and the warnings about objects the topology does not define. Pure: no I/O.
 * `adminName`: the bootstrap admin, who performs the vhost, user, permission and limit changes.
 */
export function planTopology(topology: Topology, state: BrokerState, passwords: Record<string, string>, adminName: string): TopologyPlan {
  const steps: PlannedStep[] = [];
  const conflicts: string[] = [];
  const warnings: string[] = [];
  const step = (change: Change, run: (client: ManagementClient) => Promise<void>) => steps.push({ change, run });

  for (const vhost of topology.vhosts) {
    if (state.vhosts.has(vhost)) continue;
    const adminHasPermission = topology.permissions.some((p) => p.vhost === vhost && p.user === adminName);
    step({ action: 'create', kind: 'vhost', name: vhost, as: adminName }, async (admin) => {
      await admin.putVhost(vhost, { description: 'provisioned by purple-backbone tools/provision' });
      // the management API grants the creating user full permissions on a new vhost; it does not need them
      // (the vhost's own admin declares its objects), so the grant this run caused is taken back
      if (!adminHasPermission) await admin.deletePermission(vhost, adminName, { ignoreMissing: true });
    });
  }

  for (const u of topology.users) {
    const info = state.users.get(u.name);
    const wanted = { tags: [...u.tags], password: passwords[u.name] };
    if (!info) {
      step({ action: 'create', kind: 'user', name: u.name, detail: `tags: ${u.tags.join(',') || 'none'}`, as: adminName }, (admin) =>
        admin.putUser(u.name, wanted),
      );
      continue;
    }
    const differs: string[] = [];
    if (canon(tagList(info.tags)) !== canon([...u.tags].sort())) differs.push('tags');
    if (!passwordMatchesHash(passwords[u.name], info.password_hash, info.hashing_algorithm)) differs.push('password');
    if (differs.length) {
      step({ action: 'update', kind: 'user', name: u.name, detail: differs.join(', '), as: adminName }, (admin) =>
        admin.putUser(u.name, wanted),
      );
    }
  }

  for (const p of topology.permissions) {
    const cur = state.permissions.get(key(p.vhost, p.user));
    if (cur && cur.configure === p.configure && cur.write === p.write && cur.read === p.read) continue;
    step({ action: cur ? 'update' : 'create', kind: 'permission', name: p.user, vhost: p.vhost, as: adminName }, (admin) =>
      admin.putPermission(p),
    );
  }
  for (const [vhost, users] of state.vhostPermissionUsers) {
    const defined = new Set(topology.permissions.filter((p) => p.vhost === vhost).map((p) => p.user));
    for (const user of users) {
      if (!defined.has(user)) warnings.push(`user ${user} has permissions in ${vhost} that the topology does not define (left as is)`);
    }
  }

  for (const tp of topology.topicPermissions) {
    const cur = state.topicPermissions.get(key(tp.vhost, tp.user))?.find((x) => x.exchange === tp.exchange);
    if (cur && cur.write === tp.write && cur.read === tp.read) continue;
    step(
      { action: cur ? 'update' : 'create', kind: 'topic-permission', name: `${tp.user} → ${tp.exchange}`, vhost: tp.vhost, as: adminName },
      (admin) => admin.putTopicPermission(tp),
    );
  }
  for (const [k, current] of state.topicPermissions) {
    const [vhost, user] = k.split('\0');
    for (const x of current) {
      if (!topology.topicPermissions.some((tp) => tp.vhost === vhost && tp.user === user && tp.exchange === x.exchange)) {
        warnings.push(`user ${user} has a topic permission on ${x.exchange} in ${vhost} that the topology does not define (left as is)`);
      }
    }
  }

  for (const u of topology.users) {
    const limits = state.userLimits.get(u.name) ?? {};
    if (u.maxConnections === undefined) {
      if (limits['max-connections'] !== undefined) {
        warnings.push(`user ${u.name} has max-connections ${limits['max-connections']}, which the topology does not set (left as is)`);
      }
      continue;
    }
    if (limits['max-connections'] === u.maxConnections) continue;
    const max = u.maxConnections;
    step(
      { action: limits['max-connections'] === undefined ? 'create' : 'update', kind: 'user-limit', name: `${u.name} max-connections=${max}`, as: adminName },
      (admin) => admin.putUserLimit(u.name, 'max-connections', max),
    );
  }

  // ---- the vhosts' own objects, declared by each vhost's admin ------------------------------------------
  for (const vhost of topology.vhosts) {
    const as = vhostAdminOf(topology, vhost);

    const policies = topology.policies.filter((p) => p.vhost === vhost);
    for (const p of policies) {
      const cur = state.policies.get(key(vhost, p.name));
      if (cur && cur.pattern === p.pattern && cur['apply-to'] === p['apply-to'] && cur.priority === p.priority && same(cur.definition, p.definition)) {
        continue;
      }
      step({ action: cur ? 'update' : 'create', kind: 'policy', name: p.name, vhost, as }, (declarer) => declarer.putPolicy(p));
    }
    for (const cur of state.vhostPolicies.get(vhost) ?? []) {
      if (!policies.some((p) => p.name === cur.name)) {
        warnings.push(`policy ${cur.name} in ${vhost} is not in the topology (left as is); it may compete with the provisioned ones`);
      }
    }

    for (const x of topology.exchanges.filter((e) => e.vhost === vhost)) {
      const cur = state.exchanges.get(key(vhost, x.name));
      if (!cur) {
        step({ action: 'create', kind: 'exchange', name: x.name, vhost, as }, (declarer) => declarer.putExchange(x));
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

    for (const q of topology.queues.filter((e) => e.vhost === vhost)) {
      const cur = state.queues.get(key(vhost, q.name));
      const wantedType = String(q.arguments['x-queue-type'] ?? 'classic');
      if (!cur) {
        step({ action: 'create', kind: 'queue', name: q.name, vhost, detail: wantedType, as }, (declarer) => declarer.putQueue(q));
        continue;
      }
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
      const current = state.bindings.get(key(vhost, b.source, b.destination)) ?? [];
      if (current.some((c) => c.routing_key === b.routing_key && same(c.arguments, b.arguments))) continue;
      step(
        { action: 'create', kind: 'binding', name: `${b.source} → ${b.destination} (${JSON.stringify(b.routing_key)})`, vhost, as },
        (declarer) => declarer.createBinding(b),
      );
    }
  }

  steps.sort((a, b) => APPLY_ORDER.indexOf(a.change.kind) - APPLY_ORDER.indexOf(b.change.kind));
  return { steps, conflicts, warnings };
}

/**
 * Makes a plan's changes in order, each as the user it names (`clientOf`); stops at the first failure, naming it
 * and how many were made. Returns the changes made.
 */
export async function applyTopology(steps: PlannedStep[], clientOf: (change: Change) => ManagementClient, log: (line: string) => void = () => undefined): Promise<Change[]> {
  const done: Change[] = [];
  for (const s of steps) {
    try {
      await s.run(clientOf(s.change));
    } catch (err) {
      throw new ProvisionError(`${describeChange(s.change)} failed after ${done.length} change(s): ${errorLine(err)}`);
    }
    done.push(s.change);
    log(describeChange(s.change));
  }
  log(done.length ? `${done.length} change(s) applied` : 'nothing to change');
  return done;
}

/**
 * Reads the broker's current state, plans the differences, refuses (before writing anything) when an existing
 * object cannot be made to match, then applies the plan.
 */
export async function provision(options: ProvisionOptions): Promise<ProvisionReport> {
  const log = options.log ?? (() => undefined);
  const topology = options.topology ?? buildTopology({ namespace: options.namespace });
  const { passwords } = options;

  const missing = topology.users.filter((u) => !passwords[u.name]).map((u) => u.passwordEnv);
  if (missing.length) throw new MissingPasswordError([...new Set(missing)]);

  const admin = await bootstrapAdmin(options);
  let plan: TopologyPlan;
  try {
    plan = planTopology(topology, await readBrokerState(admin, topology), passwords, options.adminUser);
  } catch (err) {
    if (err instanceof ProvisionError) throw err;
    throw new ProvisionError(`reading the broker's current state: ${errorLine(err)}`);
  }

  if (plan.conflicts.length) {
    throw new ProvisionError(`refusing to provision, nothing was changed: ${plan.conflicts.join('; ')}`);
  }
  for (const w of plan.warnings) log(`warning: ${w}`);

  const clients = new Map<string, ManagementClient>();
  const clientOf = (change: Change): ManagementClient => {
    if (BOOTSTRAP_KINDS.includes(change.kind)) return admin;
    let client = clients.get(change.as);
    if (!client) {
      client = new ManagementClient({ url: options.managementUrl, username: change.as, password: passwords[change.as], timeoutMs: options.timeoutMs });
      clients.set(change.as, client);
    }
    return client;
  };
  const changes = await applyTopology(plan.steps, clientOf, log);
  return { changes, warnings: plan.warnings };
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
