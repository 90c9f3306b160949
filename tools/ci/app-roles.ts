import { databaseUrlEnvOf, isDatabaseApp } from '@purple/persistence';
import { APP_NAMES, buildTopology, roleOf } from '@purple/topology';

/**
 * Prints, as JSON, what the deployment artefacts must agree with: each app's broker role (user, vhost, password
 * variable, queues) and every broker user's password variable, straight from libs/topology. The manifest and
 * compose checks (validate-manifests.mjs, check-compose.mjs) read it, so they never keep a copy of the table.
 *   npx ts-node -P tools/tsconfig.json tools/ci/app-roles.ts
 */
const topology = buildTopology();
const description = {
  // databaseUrlEnv: the app's own PostgreSQL URL variable; absent for the apps that use no database
  apps: APP_NAMES.map((app) => ({ ...roleOf(app), ...(isDatabaseApp(app) ? { databaseUrlEnv: databaseUrlEnvOf(app) } : {}) })),
  users: topology.users.map((user) => ({ name: user.name, passwordEnv: user.passwordEnv })),
};
process.stdout.write(`${JSON.stringify(description, null, 2)}\n`);
