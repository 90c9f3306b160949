import { randomBytes } from 'node:crypto';
import { BrokerSettings } from './broker';
import { PrivateBroker, PrivateBrokerState, attachPrivateBroker, startPrivateBroker } from './private-broker';

/**
 * Several private RabbitMQ nodes on this machine, clustered (RabbitMQ's clustering guide, "Starting Independent
 * Nodes on a Single Machine"): each node is a `PrivateBroker` (own name, ports, directories; the machine's cookie),
 * the others joined to the first with `rabbitmqctl join_cluster`. Management runs on every node (as the Cluster
 * Operator sets it up), so any node's API serves the cluster when another is down. Quorum queues declared once the
 * cluster is up get a replica on every node.
 */
export interface PrivateCluster {
  readonly nodes: PrivateBroker[];
  /** the first node's AMQP port; every node's management URL (comma-separated) and AMQP port (`amqpPorts`) */
  readonly settings: BrokerSettings;
  /** `127.0.0.1:<port>` of every node, first node first */
  readonly amqpAddresses: string[];
  readonly state: PrivateClusterState;
  /** the node names the cluster reports as running */
  runningNodes(): Promise<string[]>;
  /** stops every node and removes its directory */
  dispose(): Promise<void>;
}

export interface PrivateClusterState {
  name: string;
  nodes: PrivateBrokerState[];
}

export async function startPrivateCluster(options: { size?: number; name?: string; log?: (line: string) => void } = {}): Promise<PrivateCluster> {
  const size = options.size ?? 3;
  const name = options.name ?? `cluster-${randomBytes(3).toString('hex')}`;
  const log = options.log ?? (() => undefined);
  const started = await Promise.allSettled(
    Array.from({ length: size }, (_, i) =>
      startPrivateBroker({ name: `${name}-${i + 1}`, plugins: ['rabbitmq_management'], log }),
    ),
  );
  const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const cluster = clusterOf(name, nodes);
  try {
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const [first, ...others] = nodes;
    // one at a time: joins that overlap can each reset a view of the cluster the other relies on
    for (const node of others) {
      await node.ctl('stop_app');
      await node.ctl('join_cluster', first.nodename);
      await node.startApp();
      log(`${node.nodename}: joined ${first.nodename}`);
    }
    const running = await cluster.runningNodes();
    if (running.length !== size) throw new Error(`the cluster reports ${running.length} running nodes of ${size}: ${running.join(', ')}`);
    return cluster;
  } catch (error) {
    await cluster.dispose();
    throw error;
  }
}

/** The cluster described by `state` (e.g. left running by `npm run cluster -- up`). */
export function attachPrivateCluster(state: PrivateClusterState, log?: (line: string) => void): PrivateCluster {
  return clusterOf(
    state.name,
    state.nodes.map((node) => attachPrivateBroker(node, { log })),
  );
}

function clusterOf(name: string, nodes: PrivateBroker[]): PrivateCluster {
  return {
    nodes,
    settings: nodes[0] && {
      ...nodes[0].settings,
      managementUrl: nodes.map((n) => n.settings.managementUrl).join(','),
      amqpPorts: nodes.map((n) => n.amqpPort),
    },
    amqpAddresses: nodes.map((n) => `127.0.0.1:${n.amqpPort}`),
    state: { name, nodes: nodes.map((n) => n.state) },
    async runningNodes() {
      for (const node of nodes) {
        if (!node.running()) continue;
        const status = JSON.parse(await node.ctl('cluster_status', '--formatter', 'json')) as { running_nodes?: string[] };
        return status.running_nodes ?? [];
      }
      return [];
    },
    async dispose() {
      // the others first, so the first node does not wait for peers that are going away
      for (const node of [...nodes].reverse()) await node.dispose();
    },
  };
}
