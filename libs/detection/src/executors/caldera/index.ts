export * from './caldera-settings';
export * from './caldera-link';
export * from './shell-quoting';
export * from './caldera-executor';
