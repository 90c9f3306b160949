import { DynamicModule, Module } from '@nestjs/common';
import type { DetectionType } from '@purple/contracts';
import type { AppName } from '@purple/topology';
import { DetectionConnector } from '../connectors/connector';
import { ConnectorRegistry } from '../connectors/registry';
import { CLOCK, systemClock } from '../semantics/clock';
import { RunDetection } from '../semantics/run-detection';
import { AnswerDetectionTask } from './answer-detection-task';
import { DetectionTaskConsumer } from './detection-task-consumer';
import { DetectionWorkerEnv, WORKER_SETTINGS, workerSettingsOf } from './worker-settings';

export interface DetectionWorkerOptions {
  app: AppName;
  /** which pool: `api` consumes caldera.checking.api.tasks, `agent` caldera.checking.agent.tasks */
  detectionType: DetectionType;
  env: DetectionWorkerEnv;
  /** the configured connectors (api) or executors (agent); a task for any other is answered `unsupported` */
  connectors: DetectionConnector[];
  /** where the app read its configuration (default process.env): its secret values never leave in a response */
  secretEnv?: NodeJS.ProcessEnv;
}

/** A detection worker: needs MessagingModule.forApp(app) (its connection and confirmed publisher) in the app. */
@Module({})
export class DetectionWorkerModule {
  static register(options: DetectionWorkerOptions): DynamicModule {
    return {
      module: DetectionWorkerModule,
      providers: [
        {
          provide: WORKER_SETTINGS,
          useValue: workerSettingsOf(
            options.app,
            options.detectionType,
            options.env,
            options.secretEnv,
            options.connectors.flatMap((connector) => connector.secrets ?? []),
          ),
        },
        { provide: CLOCK, useValue: systemClock },
        { provide: ConnectorRegistry, useValue: new ConnectorRegistry(options.connectors) },
        RunDetection,
        AnswerDetectionTask,
        DetectionTaskConsumer,
      ],
    };
  }
}
