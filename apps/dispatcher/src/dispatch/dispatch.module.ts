import { DynamicModule, Module } from '@nestjs/common';
import { DISPATCH_TASK_REPOSITORY, TaskRepository } from '@purple/checking';
import { detectionDefaultsOf } from '@purple/detection';
import { ConfirmedPublisher } from '@purple/messaging';
import {
  DETECTION_DEFAULTS,
  DISPATCH_SETTINGS,
  DispatchPendingTasks,
  ExpireOverdueTasks,
  LEARNED_DELAY_SETTINGS,
  TASK_PUBLISHER,
} from '@purple/checking/dispatch';
import { DispatcherEnv, learnedDelaySettingsOf } from '../dispatcher-env';
import { DispatchLoop } from './dispatch-loop';

/** Pending tasks in PostgreSQL → `checking.{api,agent}.task`; unanswered tasks retried, then timed out. */
@Module({})
export class DispatchModule {
  static register(env: DispatcherEnv): DynamicModule {
    return {
      module: DispatchModule,
      providers: [
        { provide: DISPATCH_SETTINGS, useValue: { batchSize: env.DISPATCH_BATCH_SIZE, graceSeconds: env.DISPATCH_GRACE_SECONDS, sweepMs: env.DISPATCH_SWEEP_MS } },
        { provide: DETECTION_DEFAULTS, useValue: detectionDefaultsOf(env) },
        { provide: LEARNED_DELAY_SETTINGS, useValue: learnedDelaySettingsOf(env) },
        { provide: DISPATCH_TASK_REPOSITORY, useClass: TaskRepository },
        { provide: TASK_PUBLISHER, useExisting: ConfirmedPublisher },
        DispatchPendingTasks,
        ExpireOverdueTasks,
        DispatchLoop,
      ],
    };
  }
}
