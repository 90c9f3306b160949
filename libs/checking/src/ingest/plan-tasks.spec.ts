import { normaliseExecution, parseExecutionMessage } from '@purple/contracts';
import { RejectedMessageError } from '../errors';
import { SEED_TASKS, linkResultWithList, seedExecutionResult } from '../testing';
import { newExecutionOf } from './ingest-execution';
import { DEFAULT_MAX_ATTEMPTS, planTasks } from './plan-tasks';

function normalised(message: Record<string, unknown>) {
  const parsed = parseExecutionMessage(message);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return normaliseExecution(parsed.value);
}

describe('planTasks', () => {
  it("plans the seed's four detections as pending tasks with the defaults", () => {
    const tasks = planTasks(normalised(seedExecutionResult()).detections);
    expect(tasks.map((t) => ({ detection_type: t.detectionType, platform: t.platform, connector: t.connector, query: t.query }))).toEqual(
      SEED_TASKS,
    );
    for (const task of tasks) {
      expect(task).toMatchObject({ priority: 'medium', timeoutSeconds: 30, maxAttempts: DEFAULT_MAX_ATTEMPTS });
    }
  });

  it('reads priority, timeout_seconds and max_retries from a detection', () => {
    const [siem, edr] = planTasks(normalised(linkResultWithList()).detections);
    expect(siem).toMatchObject({ priority: 'high', timeoutSeconds: 30, maxAttempts: 2, config: { priority: 'high' } });
    expect(edr).toMatchObject({ priority: 'medium', timeoutSeconds: 120, maxAttempts: DEFAULT_MAX_ATTEMPTS });
  });

  it('refuses malformed settings, naming the detection', () => {
    const message = linkResultWithList();
    const detections = (message['execution'] as { detections: Array<{ detection_config: Record<string, unknown> }> }).detections;
    detections[0].detection_config['priority'] = 'urgent';
    detections[1].detection_config['timeout_seconds'] = 0;
    const attempt = () => planTasks(normalised(message).detections);
    expect(attempt).toThrow(RejectedMessageError);
    expect(attempt).toThrow(
      'invalid execution result: detection api/siem: priority must be one of high, medium, low; ' +
        'detection api/edr: timeout_seconds must be an integer from 1 to 86400',
    );
  });
});

describe('newExecutionOf', () => {
  it('keeps ATT&CK data, the link id and the output, and starts pending', () => {
    const row = newExecutionOf(normalised(linkResultWithList()), { dedupeKey: 'link:link-67890', correlationId: 'corr-1' });
    expect(row).toMatchObject({
      calderaOperationId: 'op-12345',
      operationName: 'purple-discovery',
      calderaLinkId: 'link-67890',
      tactic: 'discovery',
      techniqueId: 'T1033',
      techniqueName: 'System Owner/User Discovery',
      result: { stdout: 'administrator', stderr: '', exit_code: 0 },
      executedAt: new Date('2024-01-15T10:30:00Z'),
      correlationId: 'corr-1',
      verdict: 'pending',
    });
    expect(row.tasks).toHaveLength(4);
  });

  it('gives an execution without detections the final verdict no_detections', () => {
    const message = seedExecutionResult();
    delete message['detections'];
    const row = newExecutionOf(normalised(message), { dedupeKey: 'k', correlationId: 'c' });
    expect(row).toMatchObject({ verdict: 'no_detections', tasks: [], tactic: null, calderaLinkId: null });
  });
});
