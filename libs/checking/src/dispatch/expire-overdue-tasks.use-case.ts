import { Inject, Injectable, Logger } from '@nestjs/common';
import { DISPATCH_TASK_REPOSITORY, DispatchTaskRepository } from '../tasks/task.repository';
import { DISPATCH_SETTINGS, DispatchSettings } from './dispatch-settings';

export interface ExpiryReport {
  retried: number;
  timedOut: number;
}

/**
 * Tasks dispatched but unanswered by their deadline: sent again (as the next attempt) while they have attempts
 * left, else closed as `timed_out` and their execution rolled up to its verdict in the same transaction.
 */
@Injectable()
export class ExpireOverdueTasks {
  private readonly logger = new Logger('Dispatcher');

  constructor(
    @Inject(DISPATCH_TASK_REPOSITORY) private readonly tasks: DispatchTaskRepository,
    @Inject(DISPATCH_SETTINGS) private readonly settings: DispatchSettings,
  ) {}

  async execute(): Promise<ExpiryReport> {
    const total: ExpiryReport = { retried: 0, timedOut: 0 };
    while (this.tasks.available) {
      const claimed = await this.tasks.withOverdueBatch(this.settings.batchSize, async (batch) => {
        for (const task of batch.tasks) {
          if (task.attempts < task.maxAttempts) {
            await batch.retry(task, `no answer to attempt ${task.attempts} by its deadline; sending it again`);
            total.retried += 1;
            this.logger.warn({ msg: 'task unanswered by its deadline; sending it again', task_id: task.id, attempt: task.attempts });
          } else {
            await batch.timeOut(task, `no answer after ${task.attempts} attempt${task.attempts === 1 ? '' : 's'}`);
            total.timedOut += 1;
            this.logger.warn({ msg: 'task timed out: no answer after its last attempt', task_id: task.id, attempts: task.attempts });
          }
        }
        return batch.tasks.length;
      });
      if (claimed < this.settings.batchSize) break;
    }
    return total;
  }
}
