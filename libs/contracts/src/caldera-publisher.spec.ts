import { normaliseExecution, parseExecutionMessage, readDetections } from './index';
import {
  referenceDetections,
  referenceLinkResult,
  referenceLinkResultOtherNames,
  referenceLinkResultWithJsonDetections,
  referenceLinkResultWithPythonDetections,
  referenceLinkResultWithUnusableEntries,
} from './fixtures/caldera-publisher';

function normalised(message: Record<string, unknown>) {
  const parsed = parseExecutionMessage(message);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return normaliseExecution(parsed.value);
}

/** What the reference publisher's five entries become (see fixtures/caldera-publisher.ts). */
const REFERENCE_DETECTIONS = [
  {
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
    maxRetries: 3,
  },
  {
    detectionType: 'agent',
    platform: 'windows',
    hostOs: 'windows',
    connector: 'psh',
    query: expect.stringMatching(/^Get-WinEvent -FilterHashtable/),
    config: {
      executor: 'psh',
      target_agent: 'windows-agent-01',
      timeout_seconds: 60,
      working_directory: 'C:\\temp',
      environment: { PSExecutionPolicy: 'Bypass' },
    },
    maxRetries: 3,
  },
  {
    detectionType: 'agent',
    platform: 'linux',
    hostOs: 'linux',
    connector: 'sh',
    query: "journalctl -u ssh --since '15 minutes ago' --no-pager | grep 'Accepted' | tail -20",
    config: {
      executor: 'sh',
      target_agent: 'linux-agent-01',
      timeout_seconds: 30,
      working_directory: '/tmp',
      environment: { LANG: 'en_US.UTF-8', TZ: 'UTC' },
    },
    maxRetries: 3,
  },
  {
    detectionType: 'agent',
    platform: 'darwin',
    hostOs: 'darwin',
    connector: 'sh',
    query: expect.stringMatching(/^log show --predicate/),
    config: { executor: 'sh', target_agent: 'macos-agent-01', timeout_seconds: 45, working_directory: '/tmp', environment: { LANG: 'en_US.UTF-8' } },
    maxRetries: 3,
  },
  {
    detectionType: 'api',
    platform: 'cym',
    connector: 'cym',
    query: 'search index=security eventCode=4624 user=administrator',
    config: { endpoint: 'https://siem.company.com/api/search', timeout_seconds: 30, window_before_seconds: 900, window_after_seconds: 900 },
    maxRetries: 3,
  },
];

describe("the reference patched Caldera's messages", () => {
  it('reads the list form: api, windows, linux and darwin entries, and a product without a connector', () => {
    const execution = normalised(referenceLinkResult());
    expect(execution).toMatchObject({
      operationId: 'op-uuid-12345',
      operationName: 'operation-name',
      linkId: 'link-uuid-67890',
      agentHost: 'target-machine.local',
      agentPaw: 'agent-paw-abc123',
      command: 'whoami',
      result: { stdout: 'administrator', stderr: '', exitCode: 0 },
      executedAt: new Date('2024-01-15T10:30:00.123Z'),
    });
    expect(execution.detections).toEqual(REFERENCE_DETECTIONS);
    expect(execution.rejectedDetections).toEqual([]);
  });

  it('reads the detections given as a Python literal, as Caldera serves additional_info', () => {
    const message = referenceLinkResultWithPythonDetections();
    expect((message['execution'] as Record<string, unknown>)['detections']).toMatch(/^\[\{'detection_type': 'api'/);
    const execution = normalised(message);
    expect(execution.detections).toEqual(REFERENCE_DETECTIONS);
    expect(execution.rejectedDetections).toEqual([]);
  });

  it('reads the detections given as a JSON string', () => {
    const execution = normalised(referenceLinkResultWithJsonDetections());
    expect(execution.detections).toEqual(REFERENCE_DETECTIONS);
    expect(execution.rejectedDetections).toEqual([]);
  });

  it('reads operation_id, operation_start, link_state and raw-text result_data', () => {
    const execution = normalised(referenceLinkResultOtherNames());
    expect(execution).toMatchObject({
      operationId: 'op-uuid-12345',
      result: { stdout: 'administrator', stderr: '', exitCode: null },
    });
    expect(execution.detections).toHaveLength(5);
  });

  it('keeps the execution and every usable entry when others are unusable, each with its reason', () => {
    const execution = normalised(referenceLinkResultWithUnusableEntries());
    expect(execution.detections.map((d) => [d.detectionType, d.connector])).toEqual([['api', 'splunk']]);
    expect(execution.rejectedDetections).toEqual([
      {
        detectionType: null,
        platform: 'sh',
        query: expect.stringMatching(/^journalctl/),
        reason: 'detections[1].detection_type must be one of the following values: api, agent, windows, linux, darwin',
      },
      {
        detectionType: 'agent',
        platform: 'psh',
        query: null,
        reason: 'detections[2].detection_config must contain a non-empty string command (or query)',
      },
      {
        detectionType: 'api',
        platform: 'splunk',
        query: 'search index=security eventCode=4624 user=administrator',
        reason: 'detections[3].detection_config.timeout must be a number of seconds from 1 to 86400',
      },
      {
        detectionType: 'api',
        platform: 'splunk',
        query: 'search index=security eventCode=4624 user=administrator',
        reason: expect.stringMatching(/^detections\[4\]\.max_retries must be an integer/),
      },
      { detectionType: null, platform: null, query: null, reason: 'detections[5] must be an object, got a string' },
    ]);
  });

  it('accepts an execution with a paw but no host, and one with a host but no paw', () => {
    const withoutHost = referenceLinkResult();
    delete (withoutHost['execution'] as Record<string, unknown>)['agent_host'];
    expect(normalised(withoutHost)).toMatchObject({ agentHost: '', agentPaw: 'agent-paw-abc123' });
    const withoutPaw = referenceLinkResult();
    (withoutPaw['execution'] as Record<string, unknown>)['agent_paw'] = '';
    expect(normalised(withoutPaw)).toMatchObject({ agentHost: 'target-machine.local', agentPaw: '' });
  });

  it('refuses an execution with neither host nor paw, or without a command', () => {
    const anonymous = referenceLinkResult();
    const execution = anonymous['execution'] as Record<string, unknown>;
    delete execution['agent_host'];
    delete execution['agent_paw'];
    expect(parseExecutionMessage(anonymous)).toEqual({
      ok: false,
      errors: ['execution.agent_host is required', 'execution.agent_paw is required'],
    });
    const commandless = referenceLinkResult();
    delete (commandless['execution'] as Record<string, unknown>)['command'];
    expect(parseExecutionMessage(commandless)).toEqual({ ok: false, errors: ['execution.command is required'] });
  });

  it('accepts a link without link_id (the consumer dedupes on the message id or the body)', () => {
    const message = referenceLinkResult();
    delete (message['execution'] as Record<string, unknown>)['link_id'];
    expect(normalised(message).linkId).toBeUndefined();
  });
});

describe('readDetections', () => {
  it('takes detection types and OS names in any case, and numeric text as seconds (rounded up)', () => {
    const [entry] = referenceDetections();
    const read = readDetections([{ ...entry, detection_type: 'API', detection_config: { command: 'x', timeout: '12.5', delay: '5' } }]);
    expect(read.usable).toEqual([
      { detectionType: 'api', platform: 'splunk', connector: 'splunk', query: 'x', config: { timeout_seconds: 13, initial_delay_seconds: 5 }, maxRetries: 3 },
    ]);
  });

  it('lets a canonical setting win over its producer alias', () => {
    const read = readDetections([{ detection_type: 'linux', detection_platform: 'sh', detection_config: { command: 'id', timeout: 5, timeout_seconds: 9 } }]);
    expect(read.usable[0].config).toEqual({ timeout_seconds: 9 });
  });

  it('rejects text that is neither JSON nor a Python literal, as one entry with the reason', () => {
    const read = readDetections("[{'detection_type': 'api'");
    expect(read.usable).toEqual([]);
    expect(read.rejected).toEqual([
      { detectionType: null, platform: null, query: null, reason: expect.stringMatching(/^detections is text that is neither JSON \(.+\) nor a Python literal \(.+\)$/) },
    ]);
  });

  it('rejects unknown keys and malformed entries of the nested map, keeping the good ones', () => {
    const read = readDetections({
      api: { siem: { query: 'search x', platform: 'splunk' }, edr: { platform: 'crowdstrike' } },
      agent: { windows: { command: 'Get-Process', platform: 'powershell', priority: 'urgent' }, linux: 'id' },
      cloud: { aws: { query: 'x', platform: 'cloudtrail' } },
    });
    expect(read.usable).toEqual([{ detectionType: 'api', platform: 'siem', connector: 'splunk', query: 'search x', config: {} }]);
    expect(read.rejected.map((r) => [r.detectionType, r.platform, r.reason])).toEqual([
      ['api', 'edr', 'detections.api.edr.query is required'],
      ['agent', 'windows', 'detections.agent.windows.priority must be one of high, medium, low'],
      ['agent', 'linux', 'detections.agent.linux must be an object, got a string'],
      [null, 'cloud', 'detections.cloud is not a detection type; expected one of: api, agent'],
    ]);
  });

  it('rejects detections that are neither form', () => {
    expect(readDetections(42).rejected).toEqual([
      { detectionType: null, platform: null, query: null, reason: 'detections must be a list of detections or an object keyed by detection type, got a number' },
    ]);
  });

  it('reads nothing from absent or blank detections', () => {
    for (const raw of [undefined, null, '', '  ', []]) expect(readDetections(raw)).toEqual({ usable: [], rejected: [] });
  });
});
