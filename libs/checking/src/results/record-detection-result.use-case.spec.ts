import { DetectionResponseMessage, ExecutionVerdict, validateMessage } from '@purple/contracts';
import { RejectedMessageError } from '../errors';
import { ResponseOptions, detectionResponse } from '../testing';
import { answerOf, parseDetectionResponse } from './answer';
import { RecordDetectionResult, answerClosesTask } from './record-detection-result.use-case';
import { LockedTask, NewDetectionResult, ResultRepository, ResultTransaction } from './result.repository';
import { taskProcessingSeconds } from './task-processing-metric';

const TASK_ID = '0b0f4d4e-8c8a-4f5e-9d55-3b1a8e0d2c11';

function response(options: Partial<ResponseOptions> = {}): DetectionResponseMessage {
  const validated = validateMessage(DetectionResponseMessage, detectionResponse({ taskId: TASK_ID, ...options }));
  if (!validated.ok) throw new Error(validated.errors.join('; '));
  return validated.value;
}

/** An in-memory stand-in for one task's rows, recording what the use case asks of the database. */
const DISPATCHED_AT = new Date('2024-01-15T10:31:00Z');
const DISPATCHED: LockedTask = {
  id: TASK_ID,
  executionId: 'exec-1',
  status: 'dispatched',
  attempts: 1,
  correlationId: 'corr-1',
  detectionType: 'api',
  platform: 'siem',
  dispatchedAt: DISPATCHED_AT,
  config: {},
  isRecheck: false,
  connector: 'splunk',
};

class FakeResults {
  task: LockedTask | null = { ...DISPATCHED };
  results: NewDetectionResult[] = [];
  closed: Array<{ status: string; lastError: string | null }> = [];
  verdict: ExecutionVerdict = 'checking';
  verdictBefore: ExecutionVerdict = 'checking';
  rechecks: Array<{ taskId: string; seconds: number }> = [];
  /** the database's clock when a result is stored */
  storedAt = new Date(DISPATCHED_AT.getTime() + 95_000);
  failCommit = false;

  repository(): ResultRepository {
    const tx: ResultTransaction = {
      lockTask: async (id) => (this.task && this.task.id === id ? { ...this.task } : null),
      insertResult: async (result) => {
        if (this.results.some((r) => r.taskId === result.taskId && r.attempt === result.attempt)) return null;
        this.results.push(result);
        return this.storedAt;
      },
      closeTask: async (_id, status, lastError) => {
        this.closed.push({ status, lastError });
        if (this.task) this.task.status = status;
      },
      rollUpVerdict: async () => this.verdict,
      lockExecution: async () => ({ verdict: this.verdictBefore, executedAt: new Date('2024-01-15T10:30:00Z'), techniqueId: 'T1033' }),
      scheduleRecheck: async (taskId, seconds) => void this.rechecks.push({ taskId, seconds }),
    };
    const transaction = async (work: (t: ResultTransaction) => Promise<unknown>) => {
      const done = await work(tx);
      if (this.failCommit) throw new Error('connection lost during COMMIT');
      return done;
    };
    return { transaction } as unknown as ResultRepository;
  }
}

describe('RecordDetectionResult', () => {
  let db: FakeResults;
  let record: RecordDetectionResult;
  beforeEach(() => {
    db = new FakeResults();
    record = new RecordDetectionResult(db.repository());
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

describe('purple_task_processing_seconds', () => {
  let db: FakeResults;
  let record: RecordDetectionResult;
  beforeEach(() => {
    taskProcessingSeconds.reset();
    db = new FakeResults();
    record = new RecordDetectionResult(db.repository());
  });

  /** The histogram's series with these labels: observations, their sum, and the cumulative bucket counts. */
  async function series(labels: Record<string, string>) {
    const values = (await taskProcessingSeconds.get()).values
      .map((v) => ({ ...v, labels: v.labels as Record<string, string | number> }))
      .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value));
    // summed over the series that match (all of them for `{}`)
    const one = (name: string) =>
      values.filter((v) => v.metricName === `purple_task_processing_seconds_${name}`).reduce((total, v) => total + v.value, 0);
    const buckets = Object.fromEntries(
      values.filter((v) => v.metricName === 'purple_task_processing_seconds_bucket').map((v) => [String(v.labels['le']), v.value]),
    );
    return { count: one('count'), sum: one('sum'), buckets };
  }

  it('observes dispatch → stored result once, labelled by detection type and platform, in minute buckets', async () => {
    await record.execute(response({ status: 'not_detected' }));
    const observed = await series({ detection_type: 'api', platform: 'siem' });
    expect(observed.count).toBe(1);
    expect(observed.sum).toBe(95);
    expect(observed.buckets).toMatchObject({ '60': 0, '120': 1, '300': 1, '600': 1, '+Inf': 1 });
    expect(Object.keys(observed.buckets)).toEqual(['1', '5', '15', '30', '60', '120', '300', '600', '1200', '1800', '+Inf']);

    // the same answer redelivered: stored once, observed once
    await record.execute(response({ status: 'not_detected' }));
    expect((await series({ detection_type: 'api', platform: 'siem' })).count).toBe(1);
  });

  it('counts a platform outside the known set as other, so Caldera cannot create series at will', async () => {
    db.task = { ...DISPATCHED, detectionType: 'agent', platform: 'Windows ' };
    await record.execute(response({ detectionType: 'agent', platform: 'windows' }));
    db.task = { ...DISPATCHED, id: TASK_ID, platform: 'my-own-siem-0042' };
    db.results = [];
    await record.execute(response());
    expect((await series({ detection_type: 'agent', platform: 'windows' })).count).toBe(1);
    expect((await series({ detection_type: 'api', platform: 'other' })).count).toBe(1);
    expect((await series({ platform: 'my-own-siem-0042' })).count).toBe(0);
  });

  it('does not observe an answer to an older attempt, a task never dispatched, or a transaction that did not commit', async () => {
    // dispatched_at belongs to attempt 2 now
    db.task = { ...DISPATCHED, attempts: 2 };
    expect((await record.execute(response({ attempt: 1 }))).stored).toBe(true);
    db.task = { ...DISPATCHED, status: 'pending', attempts: 0, dispatchedAt: null };
    db.results = [];
    expect((await record.execute(response())).stored).toBe(true);
    db.task = { ...DISPATCHED };
    db.results = [];
    db.failCommit = true;
    await expect(record.execute(response())).rejects.toThrow('connection lost during COMMIT');
    expect((await series({})).count).toBe(0);
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

describe('RecordDetectionResult, purple-team depth (issue 15)', () => {
  it('grades the match and keeps what the source did and its ingestion delay', async () => {
    const db = new FakeResults();
    const detected = response({ status: 'detected', eventTimes: ['2024-01-15T10:30:40Z'] });
    detected.match = { marker: 'link-1', marker_found: true, host_scoped: true };
    detected.evidence = [{ ...detected.evidence?.[0], action: 'blocked' }];
    await new RecordDetectionResult(db.repository()).execute(detected);
    expect(db.results[0]).toMatchObject({ matchQuality: 'exact', action: 'blocked', late: false });
    expect(db.results[0].ingestionDelayMs).toBe(new Date(detected.timestamp).getTime() - Date.parse('2024-01-15T10:30:40Z'));
  });

  it('marks a detection after a not_detected verdict late', async () => {
    const db = new FakeResults();
    db.verdictBefore = 'not_detected';
    await new RecordDetectionResult(db.repository()).execute(response({ status: 'detected' }));
    expect(db.results[0]).toMatchObject({ late: true, matchQuality: 'heuristic' });
  });

  it('schedules one re-check after not_detected when the task or the default asks, never for a re-check', async () => {
    const off = new FakeResults();
    await new RecordDetectionResult(off.repository()).execute(response({ status: 'not_detected' }));
    expect(off.rechecks).toEqual([]);

    const byDefault = new FakeResults();
    await new RecordDetectionResult(byDefault.repository(), 120).execute(response({ status: 'not_detected' }));
    expect(byDefault.rechecks).toEqual([{ taskId: TASK_ID, seconds: 120 }]);

    const own = new FakeResults();
    own.task = { ...DISPATCHED, config: { recheck_after_seconds: 30 } };
    await new RecordDetectionResult(own.repository(), 120).execute(response({ status: 'not_detected' }));
    expect(own.rechecks).toEqual([{ taskId: TASK_ID, seconds: 30 }]);

    const recheck = new FakeResults();
    recheck.task = { ...DISPATCHED, isRecheck: true, config: { recheck_after_seconds: 30 } };
    await new RecordDetectionResult(recheck.repository(), 120).execute(response({ status: 'not_detected' }));
    expect(recheck.rechecks).toEqual([]);
  });
});
