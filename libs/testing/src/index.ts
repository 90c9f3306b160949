export * from './broker';
export * from './database';
export * from './service';
export * from './lifecycle';
export * from './process';
export * from './private-broker';
export * from './private-postgres';
export * from './private-cluster';
