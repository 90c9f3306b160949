export * from './config';
export * from './env';
export * from './backoff';
export * from './health';
export * from './logging';
export * from './platform.module';
export * from './bootstrap';
export * from './fatal';
