import { DetectionConnector } from './connector';
import { SplunkConnector } from './splunk/splunk-connector';
import { loadSplunkSettings } from './splunk/splunk-settings';
import { CrowdStrikeConnector } from './crowdstrike/crowdstrike-connector';
import { loadCrowdStrikeSettings } from './crowdstrike/crowdstrike-settings';
import { SentinelConnector } from './sentinel/sentinel-connector';
import { loadSentinelSettings } from './sentinel/sentinel-settings';
import { elasticConnectorsFromEnv } from './elastic/elastic-connectors';
import { httpConnectorsFromEnv } from './http/http-connector';

/**
 * The SIEM/EDR connectors configured in the environment, for the api-worker. Each is registered only when its
 * variables are set; a misconfigured one stops start-up with a ConfigError naming the variable.
 */
export function apiConnectorsFromEnv(env: NodeJS.ProcessEnv): DetectionConnector[] {
  const connectors: DetectionConnector[] = [];
  const splunk = loadSplunkSettings(env);
  if (splunk) connectors.push(new SplunkConnector(splunk));
  const crowdStrike = loadCrowdStrikeSettings(env);
  if (crowdStrike) connectors.push(new CrowdStrikeConnector(crowdStrike));
  const sentinel = loadSentinelSettings(env);
  if (sentinel) connectors.push(new SentinelConnector(sentinel));
  connectors.push(...elasticConnectorsFromEnv(env));
  connectors.push(...httpConnectorsFromEnv(env));
  return connectors;
}
