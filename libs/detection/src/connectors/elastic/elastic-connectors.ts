import { DetectionConnector } from '../connector';
import { ElasticConnector } from './elastic-connector';
import { loadElasticSettings, SEARCH_ENGINES } from './elastic-settings';

/** `elasticsearch` when ELASTICSEARCH_URL is set, `opensearch` when OPENSEARCH_URL is set: one class serves both. */
export function elasticConnectorsFromEnv(env: NodeJS.ProcessEnv): DetectionConnector[] {
  return SEARCH_ENGINES.flatMap((product) => {
    const settings = loadElasticSettings(env, product);
    return settings ? [new ElasticConnector(settings)] : [];
  });
}
