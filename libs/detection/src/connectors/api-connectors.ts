import { DetectionConnector } from './connector';
import { SplunkConnector } from './splunk/splunk-connector';
import { loadSplunkSettings } from './splunk/splunk-settings';

/**
 * The SIEM/EDR connectors configured in the environment, for the api-worker. Each is registered only when its
 * variables are set; a misconfigured one stops start-up with a ConfigError naming the variable.
 */
export function apiConnectorsFromEnv(env: NodeJS.ProcessEnv): DetectionConnector[] {
  const connectors: DetectionConnector[] = [];
  const splunk = loadSplunkSettings(env);
  if (splunk) connectors.push(new SplunkConnector(splunk));
  return connectors;
}
