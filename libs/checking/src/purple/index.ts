export * from './marker';
export * from './match-quality';
export * from './late-detection';
export * from './learned-delay';
export * from './source-outcomes';
export * from './compare-runs';
export * from './purple-read.repository';
export * from './purple-views';
