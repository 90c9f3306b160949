export * from './fake-http-server';
export * from './fake-splunk';
export * from './checking-queues';
export * from './service-process';
