import { normaliseExecution, parseExecutionMessage } from '@purple/contracts';
import {
  referenceLinkResult,
  referenceLinkResultOtherNames,
  referenceLinkResultWithJsonDetections,
  referenceLinkResultWithPythonDetections,
  referenceLinkResultWithUnusableEntries,
} from '@purple/contracts/testing';
import { SEED_TASKS, linkResultWithList, seedExecutionResult } from '../testing';
import { newExecutionOf } from './ingest-execution.use-case';
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

  it('rejects only the detections with malformed settings, naming each', () => {
    const message = linkResultWithList();
    const detections = (message['execution'] as { detections: Array<{ detection_config: Record<string, unknown> }> }).detections;
    detections[0].detection_config['priority'] = 'urgent';
    detections[1].detection_config['timeout_seconds'] = 0;
    const execution = normalised(message);
    const tasks = planTasks(execution.detections, execution.rejectedDetections);
    expect(tasks.map((t) => [t.status, t.platform, t.rejectionReason])).toEqual([
      ['pending', 'windows', null],
      ['pending', 'linux', null],
      ['rejected', 'siem', 'detections[0].detection_config.priority must be one of high, medium, low'],
      ['rejected', 'edr', 'detections[1].detection_config.timeout_seconds must be a number of seconds from 1 to 86400'],
    ]);
  });
});

/** The tasks the reference publisher's five entries become, whichever encoding the detections came in. */
const REFERENCE_TASKS = [
  {
    status: 'pending',
    detectionType: 'api',
    platform: 'splunk',
    connector: 'splunk',
    query: 'search index=security eventCode=4624 user=administrator',
    config: {
      timeout_seconds: 30,
      jitter_seconds: 900,
      window_before_seconds: 900,
      window_after_seconds: 900,
      parameters: { format: 'json', limit: 100, earliest_time: '-15m', latest_time: 'now' },
    },
    priority: 'medium',
    timeoutSeconds: 30,
    maxAttempts: 4,
    hostOs: null,
    rejectionReason: null,
  },
  {
    status: 'pending',
    detectionType: 'agent',
    platform: 'windows',
    connector: 'psh',
    query: expect.stringMatching(/^Get-WinEvent -FilterHashtable @\{LogName='Security';ID=4624\}/),
    config: { executor: 'psh', target_agent: 'windows-agent-01', timeout_seconds: 60, working_directory: 'C:\\temp', environment: { PSExecutionPolicy: 'Bypass' } },
    priority: 'medium',
    timeoutSeconds: 60,
    maxAttempts: 4,
    hostOs: 'windows',
    rejectionReason: null,
  },
  {
    status: 'pending',
    detectionType: 'agent',
    platform: 'linux',
    connector: 'sh',
    query: "journalctl -u ssh --since '15 minutes ago' --no-pager | grep 'Accepted' | tail -20",
    config: { executor: 'sh', target_agent: 'linux-agent-01', timeout_seconds: 30, working_directory: '/tmp', environment: { LANG: 'en_US.UTF-8', TZ: 'UTC' } },
    priority: 'medium',
    timeoutSeconds: 30,
    maxAttempts: 4,
    hostOs: 'linux',
    rejectionReason: null,
  },
  {
    status: 'pending',
    detectionType: 'agent',
    platform: 'darwin',
    connector: 'sh',
    query: `log show --predicate 'process == "ssh"' --info --last 15m | grep -i 'authentication succeeded'`,
    config: { executor: 'sh', target_agent: 'macos-agent-01', timeout_seconds: 45, working_directory: '/tmp', environment: { LANG: 'en_US.UTF-8' } },
    priority: 'medium',
    timeoutSeconds: 45,
    maxAttempts: 4,
    hostOs: 'darwin',
    rejectionReason: null,
  },
  {
    status: 'pending',
    detectionType: 'api',
    platform: 'cym',
    // no connector has this name: the api-worker answers the task `unsupported`, naming it
    connector: 'cym',
    query: 'search index=security eventCode=4624 user=administrator',
    config: { endpoint: 'https://siem.company.com/api/search', timeout_seconds: 30, window_before_seconds: 900, window_after_seconds: 900 },
    priority: 'medium',
    timeoutSeconds: 30,
    maxAttempts: 4,
    hostOs: null,
    rejectionReason: null,
  },
];

describe("the reference patched Caldera's messages become these tasks", () => {
  const tasksOf = (message: Record<string, unknown>) => {
    const execution = normalised(message);
    return planTasks(execution.detections, execution.rejectedDetections);
  };

  it.each([
    ['the list form', referenceLinkResult],
    ['detections as a Python literal', referenceLinkResultWithPythonDetections],
    ['detections as a JSON string', referenceLinkResultWithJsonDetections],
    ['operation_id, operation_start, link_state', referenceLinkResultOtherNames],
  ])('%s', (_name, message) => {
    expect(tasksOf(message())).toEqual(REFERENCE_TASKS);
  });

  it('unusable entries beside a usable one: one pending task, the others rejected with their reasons', () => {
    const tasks = tasksOf(referenceLinkResultWithUnusableEntries());
    expect(tasks[0]).toEqual(REFERENCE_TASKS[0]);
    expect(tasks.slice(1)).toEqual([
      expect.objectContaining({ status: 'rejected', detectionType: null, platform: 'sh', connector: '', maxAttempts: 0 }),
      expect.objectContaining({ status: 'rejected', detectionType: 'agent', platform: 'psh', query: '' }),
      expect.objectContaining({ status: 'rejected', detectionType: 'api', platform: 'splunk', rejectionReason: expect.stringContaining('timeout must be a number of seconds') }),
      expect.objectContaining({ status: 'rejected', detectionType: 'api', rejectionReason: expect.stringContaining('max_retries must be an integer') }),
      expect.objectContaining({ status: 'rejected', detectionType: null, platform: '', connector: '', rejectionReason: 'detections[5] must be an object, got a string' }),
    ]);
    expect(tasks[1].rejectionReason).toBe('detections[1].detection_type must be one of the following values: api, agent, windows, linux, darwin');
    const execution = newExecutionOf(normalised(referenceLinkResultWithUnusableEntries()), { dedupeKey: 'k', correlationId: 'c' });
    expect(execution.verdict).toBe('pending');
  });

  it('an execution whose every entry is unusable starts (and stays) no_usable_detections', () => {
    const message = referenceLinkResult([{ detection_type: 'mainframe', detection_platform: 'jcl', detection_config: { command: 'x' } }]);
    const execution = newExecutionOf(normalised(message), { dedupeKey: 'k', correlationId: 'c' });
    expect(execution.verdict).toBe('no_usable_detections');
    expect(execution.tasks.map((t) => t.status)).toEqual(['rejected']);
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
