export * from './tokens';
export * from './broker-connector';
export * from './dead-letter';
export * from './publisher';
export * from './messaging.module';
export * from './service';
export * from './metrics';
