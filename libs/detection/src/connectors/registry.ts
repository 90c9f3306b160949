import { DetectionConnector } from './connector';

/**
 * The connectors (api-worker) or executors (agent-worker) this worker has, by the name tasks give in `connector`.
 * Only configured ones are registered, so a task for anything else is answered `unsupported`.
 */
export class ConnectorRegistry {
  private readonly byName = new Map<string, DetectionConnector>();

  constructor(connectors: DetectionConnector[] = []) {
    for (const connector of connectors) this.register(connector);
  }

  register(connector: DetectionConnector): void {
    const name = connector.name.toLowerCase();
    if (this.byName.has(name)) throw new Error(`two connectors are registered as "${name}"`);
    this.byName.set(name, connector);
  }

  /** names are matched case-insensitively: producers write `Splunk` as often as `splunk` */
  find(name: string): DetectionConnector | undefined {
    return this.byName.get(name.toLowerCase());
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }
}
