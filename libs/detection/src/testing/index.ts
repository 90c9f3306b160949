export * from './fake-splunk';
export * from './checking-queues';
export * from './service-process';
