import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { TaskStatus, Verdict } from '@purple/persistence';
import { DataSource } from 'typeorm';
import { inTransaction } from '../database';
import { TaskAlreadyCompletedError, TaskNotFoundError } from '../errors';
import { rollUpVerdict } from '../verdict/roll-up-verdict';

export interface RedispatchOutcome {
  taskId: string;
  executionId: string;
  previousStatus: TaskStatus;
  /** false when the task was pending already */
  changed: boolean;
  verdict: Verdict;
}

/** Detection tasks: the SQL that changes a task's status. */
@Injectable()
export class TaskRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Puts a task back to pending; the database's NOTIFY wakes the dispatcher, which sends it as a new attempt.
   * `attempts` is kept, so the next dispatch is a new attempt with a result slot of its own. A completed task
   * is refused: it has its answer.
   */
  reopen(taskId: string): Promise<RedispatchOutcome> {
    return inTransaction(this.dataSource, async (manager) => {
      const [task] = (await manager.query(`SELECT id, execution_id, status FROM detection_task WHERE id = $1 FOR UPDATE`, [
        taskId,
      ])) as Array<{ id: string; execution_id: string; status: TaskStatus }>;
      if (!task) throw new TaskNotFoundError(taskId);
      if (task.status === 'completed') throw new TaskAlreadyCompletedError(taskId);
      const changed = task.status !== 'pending';
      if (changed) {
        await manager.query(
          `UPDATE detection_task SET status = 'pending', deadline_at = NULL, completed_at = NULL, updated_at = now() WHERE id = $1`,
          [taskId],
        );
      }
      const verdict = await rollUpVerdict(manager, task.execution_id);
      return { taskId, executionId: task.execution_id, previousStatus: task.status, changed, verdict };
    });
  }
}
