import { DetectionResponseMessage, validateMessage } from '@purple/contracts';
import type { Verdict } from '@purple/persistence';
import { RejectedMessageError } from '../errors';
import { ResponseOptions, detectionResponse } from '../testing';
import { answerOf, parseDetectionResponse } from './answer';
import { RecordDetectionResult, answerClosesTask } from './record-detection-result';
import { LockedTask, NewDetectionResult, ResultStore, ResultTransaction } from './result-store';

const TASK_ID = '0b0f4d4e-8c8a-4f5e-9d55-3b1a8e0d2c11';

function response(options: Partial<ResponseOptions> = {}): DetectionResponseMessage {
  const validated = validateMessage(DetectionResponseMessage, detectionResponse({ taskId: TASK_ID, ...options }));
  if (!validated.ok) throw new Error(validated.errors.join('; '));
  return validated.value;
}

/** An in-memory stand-in for one task's rows, recording what the use case asks of the database. */
const DISPATCHED: LockedTask = { id: TASK_ID, executionId: 'exec-1', status: 'dispatched', attempts: 1, correlationId: 'corr-1' };

class FakeResults {
  task: LockedTask | null = { ...DISPATCHED };
  results: NewDetectionResult[] = [];
  closed: Array<{ status: string; lastError: string | null }> = [];
  verdict: Verdict = 'checking';

  store(): ResultStore {
    const tx: ResultTransaction = {
      lockTask: async (id) => (this.task && this.task.id === id ? { ...this.task } : null),
      insertResult: async (result) => {
        if (this.results.some((r) => r.taskId === result.taskId && r.attempt === result.attempt)) return false;
        this.results.push(result);
        return true;
      },
      closeTask: async (_id, status, lastError) => {
        this.closed.push({ status, lastError });
        if (this.task) this.task.status = status;
      },
      rollUpVerdict: async () => this.verdict,
    };
    return { transaction: (work: (t: ResultTransaction) => Promise<unknown>) => work(tx) } as unknown as ResultStore;
  }
}

describe('RecordDetectionResult', () => {
  let db: FakeResults;
  let record: RecordDetectionResult;
  beforeEach(() => {
    db = new FakeResults();
    record = new RecordDetectionResult(db.store());
  });

  it('stores a detection with its evidence and completes the task', async () => {
    const outcome = await record.execute(response({ status: 'detected', eventTimes: ['2024-01-15T10:30:50Z', '2024-01-15T10:30:40Z'] }));
    expect(outcome).toEqual({
      stored: true,
      taskId: TASK_ID,
      executionId: 'exec-1',
      attempt: 1,
      resultStatus: 'detected',
      taskStatus: 'completed',
      verdict: 'checking',
      correlationId: 'corr-1',
    });
    expect(db.results[0]).toMatchObject({
      status: 'detected',
      detected: true,
      eventsFound: 3,
      matchedEventAt: new Date('2024-01-15T10:30:40Z'),
      resultAt: new Date('2024-01-15T10:31:15Z'),
      workerId: 'api-worker-01',
    });
    expect(db.results[0].response).toMatchObject({ task_id: TASK_ID, detected: true });
    expect(db.closed).toEqual([{ status: 'completed', lastError: null }]);
  });

  it('fails the task for error and unsupported answers, keeping why', async () => {
    await record.execute(response({ status: 'error', error: 'splunk: 401 unauthorized' }));
    expect(db.closed).toEqual([{ status: 'failed', lastError: 'splunk: 401 unauthorized' }]);
    db.task = { ...DISPATCHED, attempts: 2 };
    await record.execute(response({ status: 'unsupported', platform: 'qradar', attempt: 2 }));
    expect(db.closed[1]).toEqual({ status: 'failed', lastError: 'no connector for api platform qradar' });
  });

  it('stores a redelivered answer once and leaves the task alone', async () => {
    await record.execute(response({ status: 'not_detected' }));
    const again = await record.execute(response({ status: 'not_detected' }));
    expect(again.stored).toBe(false);
    expect(db.results).toHaveLength(1);
    expect(db.closed).toHaveLength(1);
  });

  it('answers the latest dispatch when the worker does not name the attempt', async () => {
    db.task = { ...DISPATCHED, attempts: 3 };
    expect((await record.execute(response())).attempt).toBe(3);
    db.task = { ...DISPATCHED, attempts: 0, status: 'pending' };
    db.results = [];
    expect((await record.execute(response())).attempt).toBe(1);
  });

  it('keeps a late answer to an older attempt without reopening a task a newer attempt closed', async () => {
    db.task = { ...DISPATCHED, status: 'completed', attempts: 2 };
    const outcome = await record.execute(response({ status: 'error', attempt: 1 }));
    expect(outcome).toMatchObject({ stored: true, taskStatus: 'completed' });
    expect(db.closed).toEqual([]);
  });

  it('refuses a response for a task that does not exist', async () => {
    db.task = null;
    await expect(record.execute(response())).rejects.toThrow(
      new RejectedMessageError([`unknown task_id "${TASK_ID}": no such detection task`], 'invalid detection response'),
    );
    const foreign = validateMessage(DetectionResponseMessage, detectionResponse({ taskId: 'task-uuid-12345' }));
    await expect(record.execute((foreign as { value: DetectionResponseMessage }).value)).rejects.toThrow(/unknown task_id "task-uuid-12345"/);
  });
});

describe('answerClosesTask', () => {
  it('lets the latest attempt have the last word', () => {
    expect(answerClosesTask({ status: 'dispatched', attempts: 2 }, 1)).toBe(true);
    expect(answerClosesTask({ status: 'timed_out', attempts: 3 }, 3)).toBe(true);
    expect(answerClosesTask({ status: 'completed', attempts: 2 }, 2)).toBe(true);
    expect(answerClosesTask({ status: 'failed', attempts: 2 }, 1)).toBe(false);
  });
});

describe('answerOf', () => {
  it('derives the status from detected when the worker sends none', () => {
    expect(answerOf(response({ detected: true })).status).toBe('detected');
    expect(answerOf(response({ detected: false })).status).toBe('not_detected');
  });

  it('refuses a status that contradicts detected', () => {
    expect(() => answerOf(response({ detected: true, status: 'error' }))).toThrow('invalid detection response: detected is true but status is error');
  });
});

describe('parseDetectionResponse', () => {
  it('names what is wrong with a response', () => {
    const body = Buffer.from(JSON.stringify({ ...detectionResponse({ taskId: TASK_ID }), confidence: 'high' }));
    expect(() => parseDetectionResponse(body)).toThrow(/^invalid detection response: confidence must be a number/);
    expect(() => parseDetectionResponse(Buffer.from('{"task_id": '))).toThrow(/^invalid detection response: invalid JSON: /);
    expect(() => parseDetectionResponse(Buffer.alloc(2048, 0x20), 1024)).toThrow('message body is 2048 bytes, over the limit of 1024 bytes');
  });
});
