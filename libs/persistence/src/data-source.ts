import { DataSourceOptions } from 'typeorm';
import { BusClientEntity } from './entities/bus-client.entity';
import { DetectionResultEntity } from './entities/detection-result.entity';
import { DetectionTaskEntity } from './entities/detection-task.entity';
import { ExecutionEntity } from './entities/execution.entity';
import { OperationEntity } from './entities/operation.entity';
import { DeadLetterEntity } from './entities/dead-letter.entity';
import { CalderaBridgeSentLinkEntity } from './entities/caldera-bridge-sent-link.entity';
import { InitialSchema1763800000000 } from './migrations/1763800000000-initial-schema';
import { PipelineAndBackbone1763800001000 } from './migrations/1763800001000-pipeline-and-backbone';
import { CalderaBridgeSentLink1763800002000 } from './migrations/1763800002000-caldera-bridge-sent-link';
import { RejectedDetections1763800003000 } from './migrations/1763800003000-rejected-detections';
import { BusIdempotencyKey1763800005000 } from './migrations/1763800005000-bus-idempotency-key';
import { BusDeliveredMessage1763800006000 } from './migrations/1763800006000-bus-delivered-message';
import { SecurityHardening1763800007000 } from './migrations/1763800007000-security-hardening';
import { PurpleTeamDepth1763800010000 } from './migrations/1763800010000-purple-team-depth';

/** Listed one by one, not globbed: webpack bundles what is imported, and a glob finds nothing in a bundle. */
export const ENTITIES = [OperationEntity, ExecutionEntity, DetectionTaskEntity, DetectionResultEntity, BusClientEntity, DeadLetterEntity, CalderaBridgeSentLinkEntity];
export const MIGRATIONS = [
  InitialSchema1763800000000,
  PipelineAndBackbone1763800001000,
  CalderaBridgeSentLink1763800002000,
  RejectedDetections1763800003000,
  BusIdempotencyKey1763800005000,
  BusDeliveredMessage1763800006000,
  SecurityHardening1763800007000,
  PurpleTeamDepth1763800010000,
];

/** The schema comes from migrations only: `synchronize` stays off. */
export function dataSourceOptions(url: string, extra: Partial<DataSourceOptions> = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: 'schema_migrations',
    // the apps' roles may not create extensions, and nothing needs one (uuids come from gen_random_uuid())
    installExtensions: false,
    ...extra,
  } as DataSourceOptions;
}
