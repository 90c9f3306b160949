// Validates rendered Kubernetes manifests (the output of `kubectl kustomize`) offline, in three layers:
//
// 1. Schema: every object whose kind has a model in kubernetes-models (core kinds, Kubernetes 1.34),
//    @kubernetes-models/keda (ScaledObject, TriggerAuthentication) or @kubernetes-models/prometheus-operator
//    (PodMonitor, PrometheusRule) is validated against that package's JSON schema: types, formats, enums,
//    required fields. An object of any other kind is an error, except RabbitmqCluster (no model is published on
//    npm), which gets the structural check in rabbitmqClusterShape() instead.
// 2. Unknown fields: those JSON schemas allow unknown properties, so the same objects are also type-checked as
//    object literals against the packages' TypeScript interfaces (the TypeScript compiler's excess-property
//    check), which rejects misspelt or misplaced fields the way `kubectl --validate=strict` and
//    `kubeconform -strict` do.
// 3. This project's rules: every app of libs/topology has a Deployment with health probes, resources, a
//    non-root read-only security context, its own broker password, a Service and a PodDisruptionBudget; KEDA
//    scales the workers on their own queues; the Jobs, the RabbitmqCluster, the alert rules and the dashboard
//    are there and consistent with the rest.
//
//   node tools/ci/validate-manifests.mjs --roles roles.json --rules docker/prometheus/purple.rules.yaml \
//     --dashboard docker/grafana/purple-dashboard.json [--namespace purple] [--pinned-images] rendered.yaml
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import ts from 'typescript';
import { parse, parseAllDocuments } from 'yaml';

const CI_DIR = dirname(fileURLToPath(import.meta.url));

/** Secrets the manifests reference but never contain: created by the operator (docker/DEPLOYING.md) or by the Cluster Operator. */
const EXTERNAL_SECRETS = new Set(['purple-secrets', 'purple-broker-passwords', 'purple-database-urls', 'purple-api-connectors', 'purple-agent-executors', 'purple-caldera-bridge']);
/**
 * The connector Secrets, each read (envFrom) by the one app that uses it: the agent-worker runs host commands, so it
 * must not hold the SIEM/EDR credentials, nor the api-worker the Caldera key (issue 12).
 */
const CONNECTOR_SECRET_OWNERS = { 'purple-api-connectors': 'api-worker', 'purple-agent-executors': 'agent-worker', 'purple-caldera-bridge': 'caldera-bridge' };
/** The apps KEDA scales on queue depth (issue 6). */
const SCALED_APPS = ['api-worker', 'agent-worker', 'result-consumer'];
const APP_CONTAINER = 'app';
const TOOLS_IMAGE = 'purple/tools';
/** Time a pod needs beyond SHUTDOWN_TIMEOUT_MS to close its connections and exit. */
const SHUTDOWN_HEADROOM_MS = 5000;

/** The npm module holding the model of an apiVersion/kind, or undefined when none is published. */
function modelModule(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'keda.sh') return `@kubernetes-models/keda/keda.sh/${version}/${kind}`;
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${kind}`;
  if (group === '' || !group.includes('.') || group.endsWith('.k8s.io')) {
    return `kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`;
  }
  return undefined;
}

const describe = (doc) => `${doc.kind}/${doc.metadata?.name ?? '?'}`;

// ---------------------------------------------------------------------------------------------- schemas

async function validateSchemas(docs, problems) {
  const stats = { schema: 0, structural: 0 };
  for (const doc of docs) {
    if (doc.apiVersion === 'rabbitmq.com/v1beta1' && doc.kind === 'RabbitmqCluster') {
      problems.push(...rabbitmqClusterShape(doc));
      stats.structural++;
      continue;
    }
    const modulePath = modelModule(doc.apiVersion, doc.kind);
    let Model;
    try {
      Model = modulePath && (await import(modulePath))[doc.kind];
    } catch {
      Model = undefined;
    }
    if (!Model) {
      problems.push(`${describe(doc)}: no schema for ${doc.apiVersion} ${doc.kind} (add its model package to tools/ci or a check here)`);
      continue;
    }
    try {
      new Model(doc).validate();
      stats.schema++;
    } catch (error) {
      problems.push(`${describe(doc)}: ${error.message}`);
    }
  }
  return stats;
}

/**
 * RabbitmqCluster (rabbitmq.com/v1beta1) has no model on npm: the fields of its spec and of spec.rabbitmq are
 * checked against the Cluster Operator's API (RabbitmqClusterSpec), and the values this project relies on.
 */
function rabbitmqClusterShape(doc) {
  const problems = [];
  const where = describe(doc);
  const specFields = new Set([
    'replicas', 'image', 'imagePullSecrets', 'service', 'persistence', 'resources', 'affinity', 'tolerations',
    'rabbitmq', 'tls', 'override', 'skipPostDeploySteps', 'terminationGracePeriodSeconds', 'delayStartSeconds',
    'secretBackend', 'autoEnableAllFeatureFlags',
  ]);
  const rabbitmqFields = new Set(['additionalPlugins', 'additionalConfig', 'advancedConfig', 'envConfig', 'erlangInetConfig']);
  const spec = doc.spec ?? {};
  for (const key of Object.keys(spec)) if (!specFields.has(key)) problems.push(`${where}: unknown field spec.${key}`);
  for (const key of Object.keys(spec.rabbitmq ?? {})) {
    if (!rabbitmqFields.has(key)) problems.push(`${where}: unknown field spec.rabbitmq.${key}`);
  }
  if (!Number.isInteger(spec.replicas) || spec.replicas < 3 || spec.replicas % 2 === 0) {
    problems.push(`${where}: spec.replicas must be an odd number of at least 3 (quorum queues keep a majority)`);
  }
  for (const plugin of spec.rabbitmq?.additionalPlugins ?? []) {
    if (!/^\w{1,100}$/.test(plugin)) problems.push(`${where}: plugin name ${JSON.stringify(plugin)} is not valid`);
  }
  if (typeof spec.rabbitmq?.additionalConfig === 'string' && spec.rabbitmq.additionalConfig.length > 2000) {
    problems.push(`${where}: spec.rabbitmq.additionalConfig is longer than the operator's 2000 characters`);
  }
  if (typeof spec.image !== 'string' || !/:[\w.-]+$/.test(spec.image) || spec.image.endsWith(':latest')) {
    problems.push(`${where}: spec.image must name a pinned RabbitMQ release`);
  }
  for (const section of ['resources', 'persistence']) {
    if (typeof spec[section] !== 'object') problems.push(`${where}: spec.${section} is missing`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------- unknown fields

/** Type-checks every modelled object against its TypeScript interface; returns how many were checked. */
function checkUnknownFields(docs, problems) {
  const imports = [];
  const declarations = [];
  const owners = []; // [firstLine, doc] of each declaration, to name the object of a diagnostic
  let line = 0;
  docs.forEach((doc, index) => {
    const modulePath = modelModule(doc.apiVersion, doc.kind);
    if (!modulePath) return;
    imports.push(`import type { I${doc.kind} as T${index} } from '${modulePath}';`);
    const text = `export const object${index}: T${index} = ${JSON.stringify(doc, null, 2)};`;
    owners.push([line, doc]);
    declarations.push(text);
    line += text.split('\n').length;
  });
  // the declarations start after the imports
  const offset = imports.length;
  const fileName = join(CI_DIR, '__rendered_manifests__.mts');
  const source = [...imports, ...declarations].join('\n');
  const options = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, ...rest) =>
    name === fileName ? ts.createSourceFile(name, source, ts.ScriptTarget.ES2022, true) : getSourceFile.call(host, name, ...rest);
  host.fileExists = (name) => name === fileName || fileExists.call(host, name);
  host.readFile = (name) => (name === fileName ? source : readFile.call(host, name));
  const program = ts.createProgram([fileName], options, host);
  const sourceLines = source.split('\n');
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ');
    if (!diagnostic.file || diagnostic.file.fileName !== fileName || diagnostic.start === undefined) {
      problems.push(`type check: ${message}`);
      continue;
    }
    const at = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line;
    const owner = owners.filter(([first]) => first + offset <= at).pop();
    problems.push(`${owner ? describe(owner[1]) : 'manifests'}: ${message} (at ${sourceLines[at].trim()})`);
  }
  return owners.length;
}

// ---------------------------------------------------------------------------------------------- project rules

const selects = (matchLabels, labels) =>
  Object.keys(matchLabels ?? {}).length > 0 && Object.entries(matchLabels).every(([k, v]) => labels?.[k] === v);

function envValue(container, name) {
  return (container.env ?? []).find((e) => e.name === name);
}

function secretRefOf(container, name) {
  return envValue(container, name)?.valueFrom?.secretKeyRef;
}

function imageIsPinned(image) {
  if (image.includes('@sha256:')) return true;
  const tag = /:([\w.-]+)$/.exec(image.slice(image.lastIndexOf('/') + 1))?.[1];
  return tag !== undefined && tag !== 'latest';
}

/** Security, writable /tmp, resources: the same for app pods and Job pods. */
function checkPodHardening(where, podSpec, container, problems) {
  const pod = podSpec.securityContext ?? {};
  if (pod.runAsNonRoot !== true) problems.push(`${where}: pod securityContext.runAsNonRoot must be true`);
  if (pod.runAsUser !== 1000) problems.push(`${where}: pod securityContext.runAsUser must be 1000 (the image's node user)`);
  if (pod.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${where}: pod seccompProfile must be RuntimeDefault`);
  if (podSpec.automountServiceAccountToken !== false) problems.push(`${where}: automountServiceAccountToken must be false`);
  const sc = container.securityContext ?? {};
  if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem must be true`);
  if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`);
  if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${where}: capabilities must drop ALL`);
  if (sc.privileged) problems.push(`${where}: must not be privileged`);
  const tmp = (container.volumeMounts ?? []).find((m) => m.mountPath === '/tmp');
  const volume = tmp && (podSpec.volumes ?? []).find((v) => v.name === tmp.name);
  if (!volume?.emptyDir) problems.push(`${where}: /tmp must be a mounted emptyDir (the root filesystem is read-only)`);
  const r = container.resources ?? {};
  for (const kind of ['requests', 'limits']) {
    for (const resource of ['cpu', 'memory']) {
      if (r[kind]?.[resource] === undefined) problems.push(`${where}: resources.${kind}.${resource} is missing`);
    }
  }
}

function checkSecretRefs(where, container, problems) {
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref && !EXTERNAL_SECRETS.has(ref.name) && !ref.name.endsWith('-default-user')) {
      problems.push(`${where}: ${e.name} comes from Secret ${ref.name}, which no documented step creates`);
    }
    if (ref?.optional) problems.push(`${where}: ${e.name} must be required (an optional secret hides a missing key)`);
  }
}

function checkProject(docs, roles, opts, problems) {
  const byKind = (kind) => docs.filter((d) => d.kind === kind);
  const named = (kind, name) => byKind(kind).find((d) => d.metadata?.name === name);
  const deployments = byKind('Deployment');
  const scaledObjects = byKind('ScaledObject');
  const configMaps = byKind('ConfigMap');

  // the app configuration: the ConfigMap every app reads
  const appConfig = configMaps.find((c) => c.metadata.name.startsWith('purple-config'));
  if (!appConfig) {
    problems.push('ConfigMap purple-config is missing');
    return;
  }
  const config = appConfig.data ?? {};
  for (const key of ['PORT', 'SHUTDOWN_TIMEOUT_MS', 'RABBITMQ_HOST', 'RABBITMQ_PORT', 'RABBITMQ_MANAGEMENT_URL', 'LOG_LEVEL']) {
    if (config[key] === undefined) problems.push(`${describe(appConfig)}: ${key} is missing`);
  }
  const httpPort = Number(config.PORT);
  const shutdownMs = Number(config.SHUTDOWN_TIMEOUT_MS);
  const appNames = new Set(roles.apps.map((r) => r.app));

  for (const deployment of deployments) {
    if (!appNames.has(deployment.metadata.name)) problems.push(`${describe(deployment)}: not an app of libs/topology`);
  }

  for (const role of roles.apps) {
    const deployment = named('Deployment', role.app);
    if (!deployment) {
      problems.push(`Deployment/${role.app} is missing`);
      continue;
    }
    const where = describe(deployment);
    const podSpec = deployment.spec.template.spec;
    const podLabels = deployment.spec.template.metadata?.labels ?? {};
    const container = podSpec.containers.find((c) => c.name === APP_CONTAINER);
    if (!container) {
      problems.push(`${where}: no container named ${APP_CONTAINER}`);
      continue;
    }
    if (!selects(deployment.spec.selector?.matchLabels, podLabels)) problems.push(`${where}: selector does not match its pod labels`);
    if (!container.image?.includes(`purple/${role.app}`)) problems.push(`${where}: image ${container.image} is not purple/${role.app}`);
    if (opts.pinnedImages && !imageIsPinned(container.image)) problems.push(`${where}: image ${container.image} has no pinned tag`);

    // configuration and secrets
    if (!(container.envFrom ?? []).some((e) => e.configMapRef?.name === appConfig.metadata.name)) {
      problems.push(`${where}: does not read ConfigMap ${appConfig.metadata.name} (envFrom)`);
    }
    for (const e of container.envFrom ?? []) {
      if (e.configMapRef && !configMaps.some((c) => c.metadata.name === e.configMapRef.name)) {
        problems.push(`${where}: envFrom ConfigMap ${e.configMapRef.name} does not exist`);
      }
      if (e.secretRef && !e.secretRef.optional) problems.push(`${where}: envFrom Secret ${e.secretRef.name} must be optional or a secretKeyRef per key`);
      if (e.secretRef && !EXTERNAL_SECRETS.has(e.secretRef.name)) problems.push(`${where}: envFrom Secret ${e.secretRef.name} is not one of the documented ones`);
      const owner = e.secretRef && CONNECTOR_SECRET_OWNERS[e.secretRef.name];
      if (owner && owner !== role.app) problems.push(`${where}: reads ${e.secretRef.name}, which only ${owner} may hold`);
    }
    const password = secretRefOf(container, role.passwordEnv);
    if (password?.name !== 'purple-broker-passwords' || password?.key !== role.passwordEnv) {
      problems.push(`${where}: ${role.passwordEnv} (broker user ${role.user}) must come from purple-broker-passwords`);
    }
    // its own PostgreSQL role only (issue 12 #12); the detection workers use no database at all
    if (role.databaseUrlEnv) {
      const url = secretRefOf(container, role.databaseUrlEnv);
      if (url?.name !== 'purple-database-urls' || url?.key !== role.databaseUrlEnv) problems.push(`${where}: ${role.databaseUrlEnv} must come from purple-database-urls`);
    }
    for (const e of container.env ?? []) {
      if (e.name.endsWith('DATABASE_URL') && e.name !== role.databaseUrlEnv) problems.push(`${where}: gets ${e.name}, which is not its own database URL`);
    }
    for (const e of container.env ?? []) {
      if (/_PASSWORD$|_SECRET|_KEY$/.test(e.name) && e.value !== undefined) problems.push(`${where}: ${e.name} is a literal, not a Secret reference`);
      if (e.name.endsWith('_PASSWORD') && e.name !== role.passwordEnv && !(role.app === 'api' && e.name === 'SOAR_ADMIN_PASSWORD')) {
        problems.push(`${where}: gets ${e.name}, another broker user's password`);
      }
    }
    checkSecretRefs(where, container, problems);

    // serving, probes, shutdown
    const http = (container.ports ?? []).find((p) => p.name === 'http');
    if (http?.containerPort !== httpPort) problems.push(`${where}: container port "http" must be PORT (${httpPort})`);
    const probe = (name, path) => {
      const p = container[name]?.httpGet;
      if (p?.path !== path || p?.port !== 'http') problems.push(`${where}: ${name} must GET ${path} on port http`);
    };
    probe('readinessProbe', '/health/ready');
    probe('livenessProbe', '/health/live');
    if (!container.startupProbe?.httpGet) problems.push(`${where}: startupProbe is missing`);
    const preStopSleepMs = Number(container.lifecycle?.preStop?.exec?.command?.[1] ?? 0) * 1000;
    const graceMs = (podSpec.terminationGracePeriodSeconds ?? 30) * 1000;
    if (graceMs < shutdownMs + preStopSleepMs + SHUTDOWN_HEADROOM_MS) {
      problems.push(`${where}: terminationGracePeriodSeconds (${graceMs / 1000}) must exceed SHUTDOWN_TIMEOUT_MS (${shutdownMs} ms) plus preStop and headroom`);
    }
    checkPodHardening(where, podSpec, container, problems);
    const annotations = deployment.spec.template.metadata?.annotations ?? {};
    if (annotations['prometheus.io/scrape'] !== 'true' || Number(annotations['prometheus.io/port']) !== httpPort) {
      problems.push(`${where}: pod template lacks the prometheus.io scrape annotations`);
    }

    // replicas, KEDA, PDB, Service
    const scaled = scaledObjects.find((s) => s.spec.scaleTargetRef?.name === role.app);
    if (SCALED_APPS.includes(role.app) && !scaled) problems.push(`${where}: no ScaledObject scales it on queue depth`);
    if (scaled && deployment.spec.replicas !== undefined) {
      problems.push(`${where}: sets replicas although ScaledObject/${scaled.metadata.name} owns them (every apply would reset them)`);
    }
    const replicas = scaled ? scaled.spec.minReplicaCount ?? 0 : deployment.spec.replicas ?? 1;
    if (replicas > 1 && !byKind('PodDisruptionBudget').some((p) => selects(p.spec.selector?.matchLabels, podLabels))) {
      problems.push(`${where}: runs ${replicas} replicas but no PodDisruptionBudget selects its pods`);
    }
    const service = byKind('Service').find((s) => selects(s.spec.selector, podLabels));
    if (!service) problems.push(`${where}: no Service selects its pods (metrics must be reachable)`);
    else if (!service.spec.ports.some((p) => p.targetPort === 'http' || p.targetPort === httpPort)) {
      problems.push(`${describe(service)}: does not target the http port`);
    }
  }

  checkKeda(docs, roles, opts, config, problems);
  checkJobs(docs, roles, opts, problems);
  checkBroker(docs, config, problems);
  checkMonitoring(docs, opts, problems);

  if (opts.namespace) {
    if (!named('Namespace', opts.namespace)) problems.push(`Namespace/${opts.namespace} is missing`);
    for (const doc of docs) {
      if (doc.kind !== 'Namespace' && doc.metadata.namespace !== opts.namespace) {
        problems.push(`${describe(doc)}: namespace is ${doc.metadata.namespace ?? 'unset'}, not ${opts.namespace}`);
      }
    }
  }
}

function checkKeda(docs, roles, opts, config, problems) {
  for (const scaled of docs.filter((d) => d.kind === 'ScaledObject')) {
    const where = describe(scaled);
    const target = scaled.spec.scaleTargetRef?.name;
    const role = roles.apps.find((r) => r.app === target);
    if (!docs.some((d) => d.kind === 'Deployment' && d.metadata.name === target) || !role) {
      problems.push(`${where}: scales ${target}, which is not an app Deployment`);
      continue;
    }
    // at least one consumer always: RabbitmqQueueWithoutConsumers would fire on an idle, scaled-to-zero worker
    if (!(scaled.spec.minReplicaCount >= 1)) problems.push(`${where}: minReplicaCount must be at least 1`);
    if (!(scaled.spec.maxReplicaCount >= scaled.spec.minReplicaCount)) problems.push(`${where}: maxReplicaCount is below minReplicaCount`);
    for (const trigger of scaled.spec.triggers ?? []) {
      const m = trigger.metadata ?? {};
      if (trigger.type !== 'rabbitmq') problems.push(`${where}: trigger ${trigger.type} is not rabbitmq`);
      if (m.mode !== 'QueueLength') problems.push(`${where}: trigger mode must be QueueLength`);
      if (m.protocol !== 'http') problems.push(`${where}: trigger protocol must be http (monitor_user cannot read queues over AMQP)`);
      if (!(Number(m.value) > 0)) problems.push(`${where}: trigger value must be a positive number`);
      if (m.vhostName !== role.vhost || !role.queues.includes(m.queueName)) {
        problems.push(`${where}: scales on ${m.vhostName} ${m.queueName}, not a queue ${target} consumes`);
      }
      if (m.host || m.hostFromEnv) problems.push(`${where}: the broker address belongs in the TriggerAuthentication`);
      const auth = docs.find((d) => d.kind === 'TriggerAuthentication' && d.metadata.name === trigger.authenticationRef?.name);
      if (!auth) problems.push(`${where}: TriggerAuthentication ${trigger.authenticationRef?.name} does not exist`);
    }
  }
  const monitor = roles.users.find((u) => u.name === 'monitor_user');
  for (const auth of docs.filter((d) => d.kind === 'TriggerAuthentication')) {
    const where = describe(auth);
    const params = {};
    for (const ref of auth.spec.secretTargetRef ?? []) {
      if (!EXTERNAL_SECRETS.has(ref.name)) problems.push(`${where}: Secret ${ref.name} is not one of the documented ones`);
      params[ref.parameter] = { secret: ref };
    }
    for (const ref of auth.spec.configMapTargetRef ?? []) {
      const configMap = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === ref.name);
      if (configMap?.data?.[ref.key] === undefined) problems.push(`${where}: ConfigMap ${ref.name} has no key ${ref.key}`);
      params[ref.parameter] = { value: configMap?.data?.[ref.key] };
    }
    if (params.username?.value !== monitor?.name) problems.push(`${where}: username must be ${monitor?.name}`);
    if (params.password?.secret?.key !== monitor?.passwordEnv) problems.push(`${where}: password must be ${monitor?.passwordEnv}`);
    const host = params.host?.value ?? '';
    if (!host.startsWith(`http://${config.RABBITMQ_HOST}.`) || !host.includes(':15672')) {
      problems.push(`${where}: host ${host} is not the management API of ${config.RABBITMQ_HOST}`);
    }
    // KEDA resolves the name from its own namespace
    if (opts.namespace && !host.includes(`.${opts.namespace}.svc`)) problems.push(`${where}: host ${host} does not name namespace ${opts.namespace}`);
  }
}

function checkJobs(docs, roles, opts, problems) {
  const job = (name) => docs.find((d) => d.kind === 'Job' && d.metadata.name === name);
  for (const name of ['purple-migrate', 'purple-provision']) {
    const found = job(name);
    if (!found) {
      problems.push(`Job/${name} is missing`);
      continue;
    }
    const where = describe(found);
    const podSpec = found.spec.template.spec;
    const container = podSpec.containers[0];
    if (!container.image?.includes(TOOLS_IMAGE)) problems.push(`${where}: image ${container.image} is not ${TOOLS_IMAGE}`);
    if (opts.pinnedImages && !imageIsPinned(container.image)) problems.push(`${where}: image ${container.image} has no pinned tag`);
    if (!['Never', 'OnFailure'].includes(podSpec.restartPolicy)) problems.push(`${where}: restartPolicy must be Never or OnFailure`);
    checkPodHardening(where, podSpec, container, problems);
    checkSecretRefs(where, container, problems);
  }
  const migrate = job('purple-migrate')?.spec.template.spec.containers[0];
  if (migrate && secretRefOf(migrate, 'MIGRATE_DATABASE_URL')?.name !== 'purple-database-urls') problems.push('Job/purple-migrate: MIGRATE_DATABASE_URL must come from purple-database-urls');
  const provision = job('purple-provision')?.spec.template.spec.containers[0];
  if (provision) {
    for (const user of roles.users) {
      const ref = secretRefOf(provision, user.passwordEnv);
      if (ref?.name !== 'purple-broker-passwords' || ref.key !== user.passwordEnv) {
        problems.push(`Job/purple-provision: ${user.passwordEnv} (user ${user.name}) must be a required key of purple-broker-passwords`);
      }
    }
    for (const name of ['RABBITMQ_ADMIN_USER', 'RABBITMQ_ADMIN_PASSWORD']) {
      if (!secretRefOf(provision, name)?.name.endsWith('-default-user')) problems.push(`Job/purple-provision: ${name} must come from the Cluster Operator's default-user Secret`);
    }
  }
}

function checkBroker(docs, config, problems) {
  const clusters = docs.filter((d) => d.kind === 'RabbitmqCluster');
  if (clusters.length !== 1) {
    problems.push(`expected one RabbitmqCluster, found ${clusters.length}`);
    return;
  }
  const [cluster] = clusters;
  if (cluster.metadata.name !== config.RABBITMQ_HOST) {
    problems.push(`${describe(cluster)}: its Service is ${cluster.metadata.name}, but RABBITMQ_HOST is ${config.RABBITMQ_HOST}`);
  }
  if (!config.RABBITMQ_MANAGEMENT_URL.startsWith(`http://${cluster.metadata.name}:15672`)) {
    problems.push(`ConfigMap purple-config: RABBITMQ_MANAGEMENT_URL is not the management API of ${cluster.metadata.name}`);
  }
  for (const job of docs.filter((d) => d.kind === 'Job')) {
    for (const e of job.spec.template.spec.containers[0].env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref?.name.endsWith('-default-user') && ref.name !== `${cluster.metadata.name}-default-user`) {
        problems.push(`${describe(job)}: ${e.name} reads ${ref.name}, but the cluster's Secret is ${cluster.metadata.name}-default-user`);
      }
    }
  }
  for (const monitor of docs.filter((d) => d.kind === 'PodMonitor' && d.metadata.name.includes('rabbitmq'))) {
    if (monitor.spec.selector?.matchLabels?.['app.kubernetes.io/name'] !== cluster.metadata.name) {
      problems.push(`${describe(monitor)}: does not select the pods of ${describe(cluster)}`);
    }
  }
}

function checkMonitoring(docs, opts, problems) {
  const appsMonitor = docs.find((d) => d.kind === 'PodMonitor' && d.metadata.name === 'purple-apps');
  const appPods = docs.filter((d) => d.kind === 'Deployment').map((d) => d.spec.template.metadata?.labels ?? {});
  if (!appsMonitor) problems.push('PodMonitor/purple-apps is missing');
  else if (!appPods.every((labels) => selects(appsMonitor.spec.selector?.matchLabels, labels))) {
    problems.push('PodMonitor/purple-apps does not select every app pod');
  }
  const detailed = docs.find((d) => d.kind === 'PodMonitor' && d.spec.podMetricsEndpoints?.some((e) => e.path === '/metrics/detailed'));
  const families = detailed?.spec.podMetricsEndpoints.find((e) => e.path === '/metrics/detailed').params?.family ?? [];
  for (const family of ['queue_coarse_metrics', 'queue_consumer_count']) {
    if (!families.includes(family)) problems.push(`no PodMonitor scrapes RabbitMQ's /metrics/detailed family ${family} (the queue alerts need it)`);
  }

  const rule = docs.find((d) => d.kind === 'PrometheusRule');
  const plain = parse(readFileSync(opts.rules, 'utf8'));
  if (!rule) problems.push('PrometheusRule is missing');
  else if (!isDeepStrictEqual(rule.spec.groups, plain.groups)) {
    problems.push(`${describe(rule)}: its groups differ from ${opts.rules} (run node tools/ci/sync-alerts.mjs)`);
  }

  const dashboardText = readFileSync(opts.dashboard, 'utf8');
  const dashboard = docs.find((d) => d.kind === 'ConfigMap' && Object.keys(d.data ?? {}).some((k) => k.endsWith('.json')));
  if (!dashboard) problems.push('the Grafana dashboard ConfigMap is missing');
  else {
    if (dashboard.metadata.labels?.grafana_dashboard !== '1') problems.push(`${describe(dashboard)}: lacks the grafana_dashboard label`);
    if (Object.values(dashboard.data)[0] !== dashboardText) problems.push(`${describe(dashboard)}: is not ${opts.dashboard}`);
  }
}

// ---------------------------------------------------------------------------------------------- main

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      roles: { type: 'string' },
      rules: { type: 'string' },
      dashboard: { type: 'string' },
      namespace: { type: 'string' },
      'pinned-images': { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1 || !values.roles || !values.rules || !values.dashboard) {
    console.error('usage: validate-manifests.mjs --roles FILE --rules FILE --dashboard FILE [--namespace NS] [--pinned-images] RENDERED.yaml');
    return 2;
  }
  const [file] = positionals;
  const problems = [];
  const parsed = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const d of parsed) for (const error of d.errors) problems.push(`${file}: ${error.message}`);
  const docs = parsed.map((d) => d.toJS()).filter((d) => d !== null);
  const roles = JSON.parse(readFileSync(values.roles, 'utf8'));

  const stats = await validateSchemas(docs, problems);
  const typeChecked = checkUnknownFields(docs, problems);
  checkProject(docs, roles, { namespace: values.namespace, pinnedImages: values['pinned-images'], rules: values.rules, dashboard: values.dashboard }, problems);

  const kinds = [...new Set(docs.map((d) => d.kind))].sort().join(', ');
  console.log(`${file}: ${docs.length} objects (${kinds})`);
  console.log(`  ${stats.schema} validated against kubernetes-models JSON schemas, ${typeChecked} type-checked for unknown fields, ${stats.structural} RabbitmqCluster checked structurally (no published schema)`);
  for (const problem of problems) console.error(`  FAIL ${problem}`);
  if (problems.length === 0) console.log('  project rules: all pass');
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = await main();
