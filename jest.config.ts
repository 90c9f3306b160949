import { getJestProjectsAsync } from '@nx/jest';

// `npm test` runs every project's unit and integration tests against the real RabbitMQ and PostgreSQL.
export default async () => ({ projects: await getJestProjectsAsync() });
