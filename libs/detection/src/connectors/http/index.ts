export * from './http-settings';
export * from './http-connector';
