import { PrivateClusterState, attachPrivateCluster, startPrivateCluster } from '@purple/testing';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../env';
import { runProvisionCli } from '../provision/provision';

/**
 * `npm run cluster -- up|down|status`: three RabbitMQ nodes clustered on this machine, on their own ports and
 * directories (never the shared broker), management on the first, the topology provisioned once all three run, so
 * every quorum queue has three replicas. Management on every node; the printed RABBITMQ_URLS and
 * RABBITMQ_MANAGEMENT_URL list every node, for apps that fail over between them. `down` stops and removes only the nodes `up` started (tmp/cluster.json).
 */
const STATE_FILE = join(REPO_ROOT, 'tmp', 'cluster.json');
const USAGE = 'usage: npm run cluster -- up [--size N] | down | status';

function readState(): PrivateClusterState | undefined {
  return existsSync(STATE_FILE) ? (JSON.parse(readFileSync(STATE_FILE, 'utf8')) as PrivateClusterState) : undefined;
}

function envLines(state: PrivateClusterState): string[] {
  const [first] = state.nodes;
  return [
    `RABBITMQ_HOST=127.0.0.1`,
    `RABBITMQ_PORT=${first.amqpPort}`,
    `RABBITMQ_URLS=${state.nodes.map((n) => `amqp://127.0.0.1:${n.amqpPort}`).join(',')}`,
    `RABBITMQ_MANAGEMENT_URL=${state.nodes.map((n) => `http://127.0.0.1:${n.managementPort}`).join(',')}`,
    `RABBITMQ_ADMIN_USER=guest  RABBITMQ_ADMIN_PASSWORD=guest`,
  ];
}

async function quorumReplicas(managementUrl: string): Promise<Array<{ queue: string; members: number }>> {
  const res = await fetch(`${managementUrl.split(',')[0]}/api/queues?columns=name,vhost,type,members`, {
    headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
  });
  const queues = (await res.json()) as Array<{ name: string; vhost: string; type: string; members?: string[] }>;
  return queues.filter((q) => q.type === 'quorum').map((q) => ({ queue: `${q.vhost} ${q.name}`, members: q.members?.length ?? 0 }));
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const log = (line: string) => console.log(line);
  switch (command) {
    case 'up': {
      if (readState()) throw new Error(`a cluster is already up (${STATE_FILE}): npm run cluster -- down first`);
      const sizeAt = rest.indexOf('--size');
      const size = sizeAt >= 0 ? Number(rest[sizeAt + 1]) : 3;
      if (!Number.isInteger(size) || size < 1 || size > 7) throw new Error('--size must be a whole number from 1 to 7');
      const cluster = await startPrivateCluster({ size, log });
      mkdirSync(dirname(STATE_FILE), { recursive: true });
      writeFileSync(STATE_FILE, JSON.stringify(cluster.state, null, 2) + '\n');
      const code = await runProvisionCli([], {
        ...process.env,
        RABBITMQ_MANAGEMENT_URL: cluster.settings.managementUrl,
        RABBITMQ_ADMIN_USER: 'guest',
        RABBITMQ_ADMIN_PASSWORD: 'guest',
      });
      if (code !== 0) throw new Error(`provisioning the cluster failed (exit ${code}); the nodes are still up: npm run cluster -- down`);
      const replicas = await quorumReplicas(cluster.settings.managementUrl);
      const short = replicas.filter((q) => q.members !== size);
      log(`${replicas.length} quorum queues, ${short.length === 0 ? `each with ${size} replicas` : `NOT all with ${size} replicas: ${short.map((q) => `${q.queue} (${q.members})`).join(', ')}`}`);
      log(['cluster up: ' + (await cluster.runningNodes()).join(', '), ...envLines(cluster.state)].join('\n'));
      return short.length === 0 ? 0 : 1;
    }
    case 'down': {
      const state = readState();
      if (!state) {
        log('no cluster is up');
        return 0;
      }
      await attachPrivateCluster(state, log).dispose();
      rmSync(STATE_FILE);
      log(`cluster ${state.name} down, its directories removed`);
      return 0;
    }
    case 'status': {
      const state = readState();
      if (!state) {
        log('no cluster is up');
        return 1;
      }
      const cluster = attachPrivateCluster(state);
      for (const node of cluster.nodes) log(`${node.nodename}: ${node.running() ? 'running' : 'down'}, AMQP ${node.amqpPort}, dir ${node.dir}`);
      log(`running nodes: ${(await cluster.runningNodes()).join(', ') || 'none'}`);
      log(envLines(state).join('\n'));
      return 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(`cluster: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
