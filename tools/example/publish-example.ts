import { connect } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { CHECKING_EXCHANGE, CHECKING_VHOST, ROUTING_KEYS } from '@purple/topology';
import { seedExecutionResult } from '@purple/contracts/testing';
import { loadDevEnv } from '../env';

/**
 * `npm run example`: publishes the seed's execution result as Caldera would (as `caldera_publisher`, persistent,
 * with a publisher confirm) under a fresh operation id, then prints the commands that read its verdict. For a first
 * run against `npm start`; real executions come from Caldera.
 */
async function main(): Promise<void> {
  const env = loadDevEnv();
  const password = env['CALDERA_PUBLISHER_PASSWORD'];
  if (!password) throw new Error('CALDERA_PUBLISHER_PASSWORD is not set (see .env.example)');
  const host = env['RABBITMQ_HOST'] || '127.0.0.1';
  const port = env['RABBITMQ_PORT'] || '5672';
  const url = `amqp://caldera_publisher:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(CHECKING_VHOST)}`;

  const operationId = `first-run-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '')}`;
  const message = { ...seedExecutionResult(), operation_id: operationId, timestamp: new Date().toISOString() };
  const connection = await connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    await new Promise<void>((resolve, reject) =>
      channel.publish(CHECKING_EXCHANGE, ROUTING_KEYS.executionResult, Buffer.from(JSON.stringify(message)),
        { persistent: true, contentType: 'application/json', messageId: randomUUID() },
        (err) => (err ? reject(err) : resolve())),
    );
  } finally {
    await connection.close();
  }
  const api = 'http://localhost:3000'; // the api's port under npm start
  console.log(`published the seed's execution result (operation ${operationId}); the broker confirmed it.
Read its verdict (ADMIN_CLIENT_SECRET as in .env, else .env.example; the connectors you configured decide it):
  ADMIN=$(curl -s -d grant_type=client_credentials -d client_id=${env['ADMIN_CLIENT_ID'] ?? 'admin'} -d client_secret="$ADMIN_CLIENT_SECRET" ${api}/token | jq -r .access_token)
  curl -s -H "Authorization: Bearer $ADMIN" '${api}/checking/executions?operation_id=${operationId}' | jq`);
}

main().catch((err: Error) => {
  console.error(`example: ${err.message}`);
  process.exitCode = 1;
});
