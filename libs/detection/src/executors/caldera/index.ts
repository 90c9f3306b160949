export * from './caldera-settings';
export * from './shell-quoting';
export * from './caldera-executor';
