// Checks that docker/compose.yaml runs what Kubernetes runs: every app of libs/topology as a service built from
// docker/Dockerfile, with a health check on /health/ready, read-only, reading the shared settings
// (docker/k8s/base/config.env, the ConfigMap's source) without overriding them, and given every secret its
// Kubernetes Deployment gets, through ../.env (copied from .env.example) or its own environment.
//   node tools/ci/check-compose.mjs --roles roles.json --rendered base.yaml
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const COMPOSE_FILE = join(REPO_ROOT, 'docker/compose.yaml');
const COMPOSE_DIR = dirname(COMPOSE_FILE);
const SHARED_CONFIG = join(REPO_ROOT, 'docker/k8s/base/config.env');
const DEV_ENV = join(REPO_ROOT, '.env.example');
/**
 * The apps read ../.env, which also holds what only provisioning and migrations may use: compose blanks those for
 * every app (Kubernetes never gives them). Nothing else may differ from Kubernetes.
 */
const COMPOSE_ONLY_ENV = new Set(['CALDERA_ADMIN_PASSWORD', 'RABBITMQ_ADMIN_PASSWORD', 'PROVISION_DATABASE_URL', 'MIGRATE_DATABASE_URL']);

/** KEY=value lines of an env file (comments and blank lines skipped). */
function envKeys(path) {
  const values = {};
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (m && !line.trimStart().startsWith('#')) values[m[1]] = m[2];
  }
  return values;
}

const listOf = (value) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const envFilePath = (entry) => resolve(COMPOSE_DIR, typeof entry === 'string' ? entry : entry.path);
const environmentOf = (service) =>
  Array.isArray(service.environment)
    ? Object.fromEntries(service.environment.map((e) => [e.split('=')[0], e.split('=').slice(1).join('=')]))
    : (service.environment ?? {});

function checkCompose(compose, roles, deployments, cluster) {
  const problems = [];
  const services = compose.services ?? {};
  const shared = envKeys(SHARED_CONFIG);
  const devEnvKeys = new Set(Object.keys(envKeys(DEV_ENV)));
  const port = shared.PORT;

  for (const role of roles.apps) {
    const service = services[role.app];
    const where = `service ${role.app}`;
    if (!service) {
      problems.push(`${where} is missing`);
      continue;
    }
    if (service.build?.dockerfile !== 'docker/Dockerfile' || service.build?.args?.APP !== role.app) {
      problems.push(`${where}: must build docker/Dockerfile with APP=${role.app}`);
    }
    if (service.read_only !== true) problems.push(`${where}: must run read_only, as in Kubernetes`);
    const healthcheck = listOf(service.healthcheck?.test).join(' ');
    if (!healthcheck.includes(`:${port}/health/ready`)) problems.push(`${where}: healthcheck must probe /health/ready on PORT ${port}`);
    if (service.depends_on?.rabbitmq?.condition !== 'service_healthy' || service.depends_on?.migrate?.condition !== 'service_completed_successfully') {
      problems.push(`${where}: must wait for a healthy rabbitmq and a finished migrate`);
    }

    // the settings: config.env read, last (so it wins over .env), and not overridden
    const envFiles = listOf(service.env_file).map(envFilePath);
    if (envFiles.at(-1) !== SHARED_CONFIG) problems.push(`${where}: env_file must end with k8s/base/config.env (the ConfigMap's source)`);
    const environment = environmentOf(service);
    for (const key of Object.keys(environment)) {
      if (!COMPOSE_ONLY_ENV.has(key)) problems.push(`${where}: environment sets ${key}, which Kubernetes takes from ${key in shared ? 'config.env' : 'elsewhere'}`);
    }
    for (const key of COMPOSE_ONLY_ENV) if (environment[key] !== '') problems.push(`${where}: environment must blank ${key} (no app may hold it)`);

    // the secrets: whatever the Deployment takes from a Secret, compose must supply
    const deployment = deployments.find((d) => d.metadata.name === role.app);
    const container = deployment?.spec.template.spec.containers.find((c) => c.name === 'app');
    const readsDotEnv = envFiles.includes(resolve(REPO_ROOT, '.env'));
    for (const e of container?.env ?? []) {
      if (!e.valueFrom?.secretKeyRef) continue;
      const supplied = e.name in environment || (readsDotEnv && devEnvKeys.has(e.name));
      if (!supplied) problems.push(`${where}: ${e.name} (a Secret in Kubernetes) is neither in its environment nor in .env.example for ../.env`);
    }
  }

  const api = services.api;
  if (!listOf(api?.ports).some((p) => String(p).endsWith(`:${port}`))) problems.push(`service api: must publish the container's PORT ${port}`);

  const rabbitmq = services.rabbitmq;
  if (!rabbitmq) problems.push('service rabbitmq is missing');
  else {
    if (rabbitmq.image !== cluster?.spec?.image) problems.push(`service rabbitmq: image ${rabbitmq.image} differs from the RabbitmqCluster's ${cluster?.spec?.image}`);
    if (!listOf(rabbitmq.networks?.default?.aliases).includes(shared.RABBITMQ_HOST)) {
      problems.push(`service rabbitmq: needs the network alias ${shared.RABBITMQ_HOST} (RABBITMQ_HOST in config.env)`);
    }
    if (!rabbitmq.healthcheck) problems.push('service rabbitmq: healthcheck is missing');
  }
  if (!services.postgres?.healthcheck) problems.push('service postgres: healthcheck is missing');
  if (services.migrate?.build?.dockerfile !== 'docker/Dockerfile.tools') problems.push('service migrate: must build docker/Dockerfile.tools');
  if (services.migrate?.depends_on?.['provision-database']?.condition !== 'service_completed_successfully') {
    problems.push('service migrate: must wait for provision-database (the roles and the database)');
  }
  return problems;
}

function main() {
  const { values } = parseArgs({ options: { roles: { type: 'string' }, rendered: { type: 'string' } } });
  if (!values.roles || !values.rendered) {
    console.error('usage: check-compose.mjs --roles FILE --rendered BASE.yaml');
    return 2;
  }
  // merge: compose files use `<<: *app`
  const compose = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true });
  const rendered = parseAllDocuments(readFileSync(values.rendered, 'utf8')).map((d) => d.toJS()).filter(Boolean);
  const problems = checkCompose(
    compose,
    JSON.parse(readFileSync(values.roles, 'utf8')),
    rendered.filter((d) => d.kind === 'Deployment'),
    rendered.find((d) => d.kind === 'RabbitmqCluster'),
  );
  for (const problem of problems) console.error(`  FAIL ${problem}`);
  if (problems.length === 0) console.log(`docker/compose.yaml: ${Object.keys(compose.services).length} services; every app runs the Kubernetes configuration`);
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = main();
