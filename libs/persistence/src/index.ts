export * from './entities/operation.entity';
export * from './entities/execution.entity';
export * from './entities/detection-task.entity';
export * from './entities/detection-result.entity';
export * from './entities/bus-client.entity';
export * from './data-source';
export * from './persistence.module';
export * from './database-admin';
