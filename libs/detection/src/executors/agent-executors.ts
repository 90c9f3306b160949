import { DetectionConnector } from '../connectors/connector';
import { LocalExecutor } from './local/local-executor';
import { loadLocalExecutorSettings } from './local/local-executor-settings';
import { calderaExecutors } from './caldera/caldera-executor';
import { loadCalderaSettings } from './caldera/caldera-settings';

/**
 * The host executors configured in the environment, for the agent-worker. Each is registered only when its
 * variables are set; a misconfigured one stops start-up with a ConfigError naming the variable.
 */
export function agentExecutorsFromEnv(env: NodeJS.ProcessEnv): DetectionConnector[] {
  const executors: DetectionConnector[] = [];
  const local = loadLocalExecutorSettings(env);
  if (local) executors.push(new LocalExecutor(local));
  // `caldera`, and the seed's `powershell`, `bash` and `sh`, run on the Caldera agent (see "Caldera agent executor" in libs/detection/README.md)
  const caldera = loadCalderaSettings(env);
  if (caldera) executors.push(...calderaExecutors(caldera));
  return executors;
}
