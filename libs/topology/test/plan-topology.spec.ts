import { BrokerState, planTopology } from '../src/provisioning';
import { buildTopology } from '../src/topology';

const topology = buildTopology({ namespace: 'plan' });
const passwords = Object.fromEntries(topology.users.map((u) => [u.name, `${u.name}-secret`]));

const emptyBroker = (): BrokerState => ({
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
});

describe('planTopology', () => {
  it('plans every object of the topology on an empty broker, in the order they must be applied', () => {
    const plan = planTopology(topology, emptyBroker(), passwords, 'bootstrap');
    expect(plan.conflicts).toEqual([]);
    expect(plan.warnings).toEqual([]);
    const kinds = plan.steps.map((s) => s.change.kind);
    const order = ['vhost', 'user', 'permission', 'topic-permission', 'user-limit', 'policy', 'exchange', 'queue', 'binding'];
    expect(kinds).toEqual([...kinds].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
    expect(kinds.filter((k) => k === 'queue')).toHaveLength(topology.queues.length);
    expect(kinds.filter((k) => k === 'binding')).toHaveLength(topology.bindings.length);
    // the bootstrap admin creates vhosts and users; each vhost's own admin declares what is in it
    expect(plan.steps.filter((s) => s.change.kind === 'vhost').every((s) => s.change.as === 'bootstrap')).toBe(true);
    expect(plan.steps.filter((s) => s.change.kind === 'queue').every((s) => s.change.as !== 'bootstrap')).toBe(true);
  });

  it('refuses a queue that exists with another type, and warns about objects the topology does not define', () => {
    const state = emptyBroker();
    const queue = topology.queues[0];
    state.vhosts.add(queue.vhost);
    state.queues.set(`${queue.vhost}\0${queue.name}`, { name: queue.name, vhost: queue.vhost, durable: true, auto_delete: false, type: 'stream', arguments: {} } as never);
    state.vhostPolicies.set(queue.vhost, [{ name: 'stray', vhost: queue.vhost, pattern: '.*', 'apply-to': 'queues', priority: 0, definition: {} }]);
    const plan = planTopology(topology, state, passwords, 'bootstrap');
    expect(plan.conflicts).toEqual([expect.stringContaining(`queue ${queue.name} in ${queue.vhost} exists as a durable stream queue`)]);
    expect(plan.warnings).toEqual([expect.stringContaining('policy stray')]);
    expect(plan.steps.some((s) => s.change.kind === 'vhost' && s.change.name === queue.vhost)).toBe(false);
  });
});
