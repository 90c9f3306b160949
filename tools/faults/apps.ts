/** Every app the suites break, in the order they start. The caldera-bridge polls a Caldera and has none here. */
export const SYSTEM_APPS = ['api', 'bus-router', 'caldera-consumer', 'dispatcher', 'api-worker', 'agent-worker', 'result-consumer'] as const;
