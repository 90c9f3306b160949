import { Injectable } from '@nestjs/common';
import { UUID_PATTERN } from '../database';
import { TaskNotFoundError } from '../errors';
import { RedispatchOutcome, TaskRepository } from './task.repository';

/**
 * Sends a dispatched, failed or timed-out task to the workers again (an operator's redispatch, or the replay of a
 * dead-lettered task message). The execution's verdict goes back to `checking` until the new answer arrives.
 */
@Injectable()
export class RedispatchTask {
  constructor(private readonly tasks: TaskRepository) {}

  execute(taskId: string): Promise<RedispatchOutcome> {
    if (!UUID_PATTERN.test(taskId)) return Promise.reject(new TaskNotFoundError(taskId));
    return this.tasks.reopen(taskId);
  }
}
