export * from './envelope';
export * from './ip-address';
export * from './url-guard';
export * from './webhook-signature';
