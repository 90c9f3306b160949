import { BrokerNamespace, PrivateCluster, attachPrivateCluster, createBrokerNamespace, startPrivateCluster } from '@purple/testing';
import { ManagementClient, SOAR_USERS, clientTopology } from '@purple/topology';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../env';

/**
 * `npm run scale -- [--counts 100,1000,3000] [--attach]`: what bus clients cost the broker, measured on a
 * three-node cluster of this machine (its own, or with `--attach` the one `npm run cluster -- up` left running).
 * Clients are created through the api's own path (clientTopology's quorum queues and bindings, PUT through the
 * management API as the vhost admin `soar_admin`) in a namespace of their own; after each step the script reads
 * every node's memory breakdown (`/api/nodes/<node>/memory`), Erlang processes and the size of its quorum (Raft)
 * data on disk, and prints the cost per client against the empty namespace. It removes the namespace (and its own
 * cluster) at the end, whatever happened.
 */
interface NodeSample {
  node: string;
  totalMb: number;
  quorumProcsMb: number;
  quorumEtsMb: number;
  otherProcsMb: number;
  binaryMb: number;
  mnesiaMb: number;
  processes: number;
  raftDiskMb: number;
}

const mb = (bytes: number | undefined) => (bytes ?? 0) / 1024 / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const out = (line: string) => process.stdout.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function du(dir: string): Promise<number> {
  return new Promise((resolve) =>
    execFile('du', ['-sb', dir], (error, stdout) => resolve(error ? 0 : Number(stdout.split(/\s/)[0]))),
  );
}

async function sample(cluster: PrivateCluster, admin: ManagementClient): Promise<NodeSample[]> {
  const nodes = await admin.get<Array<{ name: string; proc_used?: number }>>('/api/nodes?columns=name,proc_used');
  return Promise.all(
    cluster.nodes.map(async (n) => {
      const info = nodes.find((x) => x.name === n.nodename);
      const { memory } = await admin.get<{ memory: Record<string, number> }>(`/api/nodes/${encodeURIComponent(n.nodename)}/memory`);
      return {
        node: n.nodename,
        totalMb: mb(totalOf(memory)),
        quorumProcsMb: mb(memory['quorum_queue_procs']),
        quorumEtsMb: mb(memory['quorum_ets']),
        otherProcsMb: mb(memory['other_proc']),
        binaryMb: mb(memory['binary']),
        mnesiaMb: mb(memory['mnesia']),
        processes: info?.proc_used ?? 0,
        raftDiskMb: mb(await du(join(n.dir, 'mnesia'))),
      };
    }),
  );
}

/** `total` in the breakdown is an object on 3.10 ({erlang, rss, allocated}): the Erlang view is what the watermark uses. */
function totalOf(memory: Record<string, unknown>): number {
  const total = memory['total'] as { erlang?: number } | number | undefined;
  return typeof total === 'number' ? total : (total?.erlang ?? 0);
}

/** A management call retried (bounded) when the API is too busy to answer: every call here is idempotent. */
async function patiently<T>(what: string, call: () => Promise<T>, attempts = 6): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts || (error as { status?: number }).status !== undefined) throw error;
      out(`${what}: ${(error as Error).message}; again (${attempt}/${attempts - 1})`);
      await sleep(2000 * attempt);
    }
  }
}

async function createClients(ns: BrokerNamespace, from: number, to: number, concurrency = 4): Promise<void> {
  // the api's own path: clientTopology's objects, PUT as soar_admin; a loaded machine's API can take long to answer
  const soarAdmin = new ManagementClient({ url: ns.settings.managementUrl, username: ns.user(SOAR_USERS.admin), password: ns.password(SOAR_USERS.admin), timeoutMs: 60_000 });
  let next = from;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= to) return;
      const id = `scale-${String(i).padStart(5, '0')}`;
      const topology = clientTopology(id, `scale.${i}.#`, { namespace: ns.namespace });
      for (const queue of topology.queues) await patiently(`queue ${queue.name}`, () => soarAdmin.putQueue(queue));
      for (const binding of topology.bindings) await patiently(`binding to ${binding.destination}`, () => soarAdmin.createBinding(binding));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

const sum = (samples: NodeSample[], key: keyof Omit<NodeSample, 'node'>) => samples.reduce((a, s) => a + (s[key] as number), 0);

async function main(argv: string[]): Promise<void> {
  const countsAt = argv.indexOf('--counts');
  const counts = (countsAt >= 0 ? argv[countsAt + 1] : '100,1000,3000').split(',').map(Number).sort((a, b) => a - b);
  if (counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--counts takes whole numbers, e.g. 100,1000,3000');
  const attach = argv.includes('--attach');
  const stateFile = join(REPO_ROOT, 'tmp', 'cluster.json');
  if (attach && !existsSync(stateFile)) throw new Error('--attach: no cluster is up (npm run cluster -- up)');
  const cluster = attach ? attachPrivateCluster(JSON.parse(readFileSync(stateFile, 'utf8'))) : await startPrivateCluster({ size: 3, log: out });
  const settings = attach ? { ...cluster.nodes[0].settings, managementUrl: cluster.nodes.map((n) => n.settings.managementUrl).join(',') } : cluster.settings;
  let ns: BrokerNamespace | undefined;
  try {
    ns = await createBrokerNamespace({ namespace: `s${Date.now().toString(36).slice(-6)}`, settings });
    const admin = new ManagementClient({ url: settings.managementUrl, username: settings.adminUser, password: settings.adminPassword, timeoutMs: 60_000 });
    await sleep(10_000);
    const base = await sample(cluster, admin);
    out(`baseline (${cluster.nodes.length} nodes, topology provisioned, no client): ${sum(base, 'totalMb').toFixed(0)} MB, ${sum(base, 'processes')} Erlang processes`);
    const rows: string[] = [];
    let have = 0;
    for (const n of counts) {
      const started = Date.now();
      await createClients(ns, have, n);
      have = n;
      const createdIn = (Date.now() - started) / 1000;
      await sleep(15_000); // let the new queues' Raft logs settle before reading memory
      const now = await sample(cluster, admin);
      const per = (key: keyof Omit<NodeSample, 'node'>, scale = 1024) => (((sum(now, key) - sum(base, key)) * scale) / n).toFixed(1);
      const row =
        `| ${n} | ${n * 4} | ${sum(now, 'totalMb').toFixed(0)} | ${per('totalMb')} | ${per('quorumProcsMb')} | ${per('quorumEtsMb')} | ` +
        `${((sum(now, 'processes') - sum(base, 'processes')) / n).toFixed(1)} | ${per('raftDiskMb')} | ${(createdIn / n * 1000).toFixed(0)} |`;
      rows.push(row);
      out(`${n} clients (${n * 4} quorum queues × ${cluster.nodes.length} replicas) created in ${createdIn.toFixed(0)} s`);
      for (const s of now) out(`  ${s.node}: ${s.totalMb.toFixed(0)} MB (quorum procs ${s.quorumProcsMb.toFixed(0)}, quorum ets ${s.quorumEtsMb.toFixed(0)}, binary ${s.binaryMb.toFixed(0)}), ${s.processes} processes, Raft data ${s.raftDiskMb.toFixed(0)} MB`);
    }
    out('\n| clients | quorum queues | cluster memory MB | KiB per client (all nodes) | of which quorum procs | quorum ets | Erlang processes per client | Raft disk KiB per client | ms to create one client |');
    out('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const row of rows) out(row);
  } finally {
    out('cleaning up');
    await ns?.dispose().catch((error: Error) => out(`could not remove the namespace: ${error.message}`));
    if (!attach) await cluster.dispose();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`scale: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
