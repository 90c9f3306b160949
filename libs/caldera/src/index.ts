export * from './link';
export * from './link-result';
export * from './text';
