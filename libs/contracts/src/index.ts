import 'reflect-metadata';

export * from './constants';
export * from './topics';
export * from './validation';
export * from './decorators';
export * from './checking/detections';
export * from './checking/execution-result';
export * from './checking/link-result';
export * from './checking/detection-task';
export * from './checking/detection-response';
export * from './checking/normalise';
export * from './checking/normalise-detections';
export * from './python-literal';
export * from './bus/envelope';
export * from './bus/idempotency';
export * from './schemas';
