import { getJestProjectsAsync } from '@nx/jest';

// `npm test` runs every project's unit and integration tests against the real RabbitMQ and PostgreSQL.
// testTimeout is a global option: with `projects`, the presets' value would be ignored.
export default async () => ({ projects: await getJestProjectsAsync(), testTimeout: 60_000 });
