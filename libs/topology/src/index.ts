export * from './model';
export * from './names';
export * from './topology';
export * from './roles';
export * from './management-client';
export * from './definitions';
export * from './provisioning';
