export * from './elastic-settings';
export * from './elastic-response';
export * from './elastic-connector';
export * from './elastic-connectors';
