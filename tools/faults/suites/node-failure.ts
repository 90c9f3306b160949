import { CHECKING_QUEUES, CHECKING_VHOST, SOAR_VHOST } from '@purple/topology';
import type { PrivateBroker } from '@purple/testing';
import { BusLoad, CalderaLoad } from '../load';
import { FaultCounts, baseline, settle, timeToReady } from '../report';
import { FaultSystem } from '../system';
import { out, sleep, whenInFlight } from '../suite';

/**
 * Node failures under load on a three-node cluster, with two processes of every app: the node leading the
 * instructions queue stopped (`rabbitmqctl stop`) and started again; then each node in turn (`full`); then one node
 * killed with SIGKILL and started again. Between faults the cluster is whole again (every quorum queue with all its
 * members online) and the load flows on both systems. With one node of three down quorum queues keep a majority:
 * nothing may be lost or take effect twice.
 */
export type NodeFailurePlan = 'full' | 'short';

export interface NodeFailureFigures {
  counts: FaultCounts;
  /** per fault: what was done and how long until every app was ready again (on a node that runs) */
  faults: Array<{ fault: string; recoverMs: number; appsMoved: number; rejoinMs?: number }>;
  /** task messages the broker took for the workers, and the attempts the dispatchers recorded (a double dispatch shows as more messages) */
  dispatch: { taskMessages: number; attempts: number };
  /** apps whose readiness named a node that was down at the time */
  onStoppedNode: string[];
}

export async function nodeFailures(system: FaultSystem, plan: NodeFailurePlan): Promise<NodeFailureFigures> {
  const cluster = system.cluster;
  if (!cluster) throw new Error('the node-failure suite needs a cluster (FaultSystem.start with clusterSize)');
  const before = await baseline(system);
  const taskMessagesBefore = await taskMessages(system);
  const bus = (await BusLoad.create(system, 'nodes', 50)).start();
  const caldera = new CalderaLoad(system, 'faults-nodes', 200, out).start();
  const faults: NodeFailureFigures['faults'] = [];
  const onStoppedNode: string[] = [];
  try {
    const flowing = async () => {
      const [accepted, confirmed] = [bus.accepted.length, caldera.confirmed.length];
      await whenInFlight(() => bus.accepted.length >= accepted + 10 && caldera.confirmed.length >= confirmed + 5, 120_000);
    };
    /** runs `fault` on `node`, then counts the time until every app is ready on a running node; brings the node back */
    const breakNode = async (what: string, node: PrivateBroker, fault: (n: PrivateBroker) => Promise<void>) => {
      await flowing();
      await whenInFlight(() => bus.accepted.length > bus.received.size, 60_000);
      const port = `127.0.0.1:${node.amqpPort}`;
      const onIt = Object.entries(await system.brokerNodes()).filter(([, n]) => n === port).length;
      const at = Date.now();
      await fault(node);
      // ready again, and none of them on the node that is down
      const recoverMs = await timeToReadyOff(system, port, at);
      const stillOn = Object.entries(await system.brokerNodes()).filter(([, n]) => n === port).map(([app]) => app);
      onStoppedNode.push(...stillOn.map((app) => `${app} (${what})`));
      out(`${what} (${node.nodename}, ${onIt} app processes on it): every app ready on another node after ${(recoverMs / 1000).toFixed(1)} s`);
      await flowing();
      const back = Date.now();
      await node.start();
      await clusterWhole(system);
      const rejoinMs = Date.now() - back;
      await timeToReady(system, Date.now());
      out(`${node.nodename} started again; cluster whole (every quorum queue with all members online) after ${(rejoinMs / 1000).toFixed(1)} s`);
      faults.push({ fault: `${what} (${node.nodename})`, recoverMs, appsMoved: onIt, rejoinMs });
    };

    await clusterWhole(system);
    const leader = await leaderOf(system, CHECKING_VHOST, CHECKING_QUEUES.instructions);
    // SIGTERM: RabbitMQ's orderly shutdown, as Kubernetes stops a pod (rabbitmqctl stop did not answer within 300 s here)
    await breakNode('stop the node leading the instructions queue', leader, (n) => n.terminate());
    if (plan === 'full') {
      for (const node of cluster.nodes) await breakNode('stop and start', node, (n) => n.terminate());
    }
    const victim = await leaderOf(system, CHECKING_VHOST, CHECKING_QUEUES.instructions);
    await breakNode('kill -9 (the instructions leader)', victim, (n) => n.kill9());
    await flowing();

    const counts = await settle(
      system,
      `node failures (${plan}): ${faults.map((f) => f.fault).join('; ')}`,
      before,
      bus,
      caldera,
      faults.map((f) => f.recoverMs),
    );
    const attempts = await system.query<{ n: number }>(
      `SELECT coalesce(sum(t.attempts), 0)::int AS n FROM detection_task t JOIN execution e ON e.id = t.execution_id WHERE e.caldera_link_id = ANY($1::text[])`,
      [caldera.confirmed],
    );
    return { counts, faults, dispatch: { taskMessages: (await taskMessages(system)) - taskMessagesBefore, attempts: attempts[0].n }, onStoppedNode };
  } finally {
    await Promise.all([bus.abort(), caldera.abort()]);
  }
}

/** The node that leads a quorum queue now (management API). */
async function leaderOf(system: FaultSystem, vhost: string, queue: string): Promise<PrivateBroker> {
  const info = await system.namespace.management().get<{ leader?: string }>(`/api/queues/${encodeURIComponent(system.namespace.vhost(vhost))}/${encodeURIComponent(queue)}`);
  const node = system.cluster?.nodes.find((n) => n.nodename === info.leader);
  if (!node) throw new Error(`${queue} has no leader among the cluster's nodes (${info.leader})`);
  return node;
}

/** Every node running and every quorum queue of the suite with all its members online (bounded). */
async function clusterWhole(system: FaultSystem, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const size = system.cluster?.nodes.length ?? 1;
  for (;;) {
    const short: string[] = [];
    try {
      // the management API, not rabbitmqctl: each CLI call starts an Erlang VM, minutes on a loaded machine
      const nodes = await system.namespace.management().get<Array<{ name: string; running?: boolean }>>('/api/nodes?columns=name,running');
      if (nodes.filter((n) => n.running).length !== size) short.push(`nodes (${nodes.filter((n) => n.running).length} of ${size} running)`);
      for (const vhost of [CHECKING_VHOST, SOAR_VHOST]) {
        const queues = await system.namespace
          .management()
          .get<Array<{ name: string; type?: string; online?: string[]; members?: string[] }>>(`/api/queues/${encodeURIComponent(system.namespace.vhost(vhost))}?columns=name,type,online,members`);
        for (const q of queues) if (q.type === 'quorum' && (q.online?.length ?? 0) < size) short.push(q.name);
      }
    } catch (error) {
      short.push(`(${(error as Error).message})`);
    }
    if (short.length === 0) return;
    if (Date.now() > deadline) throw new Error(`the cluster was not whole ${timeoutMs / 1000} s after the node came back: ${short.slice(0, 10).join(', ')}`);
    await sleep(1000);
  }
}

/** Every app ready, none of them on `port` (the node that went away); the time from `since`. */
async function timeToReadyOff(system: FaultSystem, port: string, since: number, timeoutMs = 240_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await system.restartCrashed();
    const nodes = await system.brokerNodes();
    const waiting = Object.entries(nodes).filter(([, n]) => n === undefined || n === port).map(([app]) => app);
    if (waiting.length === 0) return Date.now() - since;
    if (Date.now() > deadline) throw new Error(`not ready on another node ${timeoutMs / 1000} s after the fault: ${waiting.join(', ')}`);
    await sleep(250);
  }
}

/** Messages published to the two task queues so far (the broker's own count). */
async function taskMessages(system: FaultSystem): Promise<number> {
  let total = 0;
  for (const queue of [CHECKING_QUEUES.apiTasks, CHECKING_QUEUES.agentTasks]) {
    const info = await system.namespace
      .management()
      .get<{ message_stats?: { publish?: number } }>(`/api/queues/${encodeURIComponent(system.namespace.vhost(CHECKING_VHOST))}/${encodeURIComponent(queue)}`);
    total += info.message_stats?.publish ?? 0;
  }
  return total;
}
