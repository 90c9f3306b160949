import {
  ExecutionResultMessage,
  LinkOutput,
  LinkResultMessage,
  NormalisedExecution,
  normaliseExecution,
  parseExecutionMessage,
  validateMessage,
} from './index';
import { linkResultWithList, linkResultWithMap, seedExecutionResult } from './fixtures/seed-examples';
import { withoutPath, withPathValue } from './fixtures/paths';

function parsed(payload: unknown) {
  const result = parseExecutionMessage(payload);
  if (!result.ok) throw new Error(result.errors.join('; '));
  return result.value;
}

function errorsOf(payload: unknown): string[] {
  const result = parseExecutionMessage(payload);
  return result.ok ? [] : result.errors;
}

/** The seed's example, in the internal form. */
const expectedSeed: NormalisedExecution = {
  operationId: 'op-12345',
  agentHost: 'target-machine.local',
  agentPaw: 'abc123def456',
  command: 'whoami',
  result: { stdout: 'administrator', stderr: '', exitCode: 0 },
  executedAt: new Date('2024-01-15T10:30:00Z'),
  detections: [
    {
      detectionType: 'api',
      platform: 'siem',
      connector: 'splunk',
      query: 'search index=security user=administrator',
      config: {},
    },
    { detectionType: 'api', platform: 'edr', connector: 'crowdstrike', query: 'process_name:whoami.exe', config: {} },
    {
      detectionType: 'agent',
      platform: 'windows',
      connector: 'powershell',
      query: 'Get-EventLog Security -InstanceId 4624',
      config: {},
      hostOs: 'windows',
    },
    {
      detectionType: 'agent',
      platform: 'linux',
      connector: 'bash',
      query: "grep 'sudo' /var/log/auth.log",
      config: {},
      hostOs: 'linux',
    },
  ],
  rejectedDetections: [],
};

describe('parseExecutionMessage', () => {
  it('picks the seed shape without message_type', () => {
    expect(parsed(seedExecutionResult())).toBeInstanceOf(ExecutionResultMessage);
  });

  it('picks the link_result shape by message_type', () => {
    expect(parsed(linkResultWithMap())).toBeInstanceOf(LinkResultMessage);
    expect(parsed(linkResultWithList())).toBeInstanceOf(LinkResultMessage);
  });

  it('reports the link_result shape’s fields for a broken link_result', () => {
    expect(errorsOf({ message_type: 'link_result' })).toEqual([
      'timestamp is required',
      'operation is required',
      'execution is required',
    ]);
  });

  it('parses a Buffer or string body, reporting broken JSON', () => {
    expect(parsed(Buffer.from(JSON.stringify(linkResultWithMap())))).toBeInstanceOf(LinkResultMessage);
    expect(parsed(JSON.stringify(seedExecutionResult()))).toBeInstanceOf(ExecutionResultMessage);
    const [error] = errorsOf(Buffer.from('{"operation_id": '));
    expect(error).toMatch(/^invalid JSON: /);
  });

  it('parses result_data given as a JSON string, converting a string exit code', () => {
    const message = withPathValue(
      linkResultWithMap(),
      'execution.result_data',
      '{"stdout":"administrator","stderr":"","exit_code":"0"}',
    );
    const value = parsed(message) as LinkResultMessage;
    expect(value.execution.result_data).toBeInstanceOf(LinkOutput);
    expect(value.execution.result_data).toEqual({ stdout: 'administrator', stderr: '', exit_code: 0 });
  });

  it('accepts result_data as an object, as raw text, or absent', () => {
    for (const resultData of [{ stdout: 'administrator', exit_code: 0 }, 'administrator', undefined]) {
      expect(errorsOf(withPathValue(linkResultWithMap(), 'execution.result_data', resultData))).toEqual([]);
    }
  });

  it('refuses result_data whose fields have the wrong type', () => {
    const message = withPathValue(linkResultWithMap(), 'execution.result_data', '{"stdout": 1, "exit_code": "zero"}');
    expect(errorsOf(message)).toEqual([
      'execution.result_data.stdout must be a string',
      'execution.result_data.exit_code must be an integer number',
    ]);
  });

  it('accepts detections given as a JSON string', () => {
    const list = (linkResultWithList()['execution'] as Record<string, unknown>)['detections'];
    const message = withPathValue(linkResultWithMap(), 'execution.detections', JSON.stringify(list));
    expect(normaliseExecution(parsed(message)).detections).toHaveLength(4);
  });

  it('accepts operation_id instead of operation.id', () => {
    const message = withPathValue(withoutPath(linkResultWithMap(), 'operation.id'), 'operation.operation_id', 'op-1');
    expect(normaliseExecution(parsed(message)).operationId).toBe('op-1');
  });

  it.each([
    ['execution.detections[1].detection_type', 'network'],
    ['execution.detections[1].detection_type', 42],
  ])('rejects only the entry with an unknown detection type in the list form, naming %s', (path, value) => {
    const normalised = normaliseExecution(parsed(withPathValue(linkResultWithList(), path, value)));
    expect(normalised.detections).toHaveLength(3);
    expect(normalised.rejectedDetections.map((r) => r.reason)).toEqual([
      `${path.replace('execution.', '')} must be one of the following values: api, agent, windows, linux, darwin`,
    ]);
  });

  it('rejects only the entry with an unknown detection type in the map form, naming it', () => {
    const message = withPathValue(linkResultWithMap(), 'execution.detections.siem', { splunk: { query: 'x', platform: 'splunk' } });
    const normalised = normaliseExecution(parsed(message));
    expect(normalised.detections).toHaveLength(4);
    expect(normalised.rejectedDetections.map((r) => r.reason)).toEqual(['detections.siem is not a detection type; expected one of: api, agent']);
  });

  it('rejects only a list entry without query text', () => {
    const message = withPathValue(linkResultWithList(), 'execution.detections[3].detection_config', { connector: 'bash' });
    const normalised = normaliseExecution(parsed(message));
    expect(normalised.detections).toHaveLength(3);
    expect(normalised.rejectedDetections.map((r) => r.reason)).toEqual([
      'detections[3].detection_config must contain a non-empty string command (or query)',
    ]);
  });

  it('rejects detections that are neither form as one unusable entry', () => {
    const normalised = normaliseExecution(parsed(withPathValue(linkResultWithMap(), 'execution.detections', 7)));
    expect(normalised.detections).toEqual([]);
    expect(normalised.rejectedDetections.map((r) => r.reason)).toEqual([
      'detections must be a list of detections or an object keyed by detection type, got a number',
    ]);
  });
});

describe('normaliseExecution', () => {
  it('normalises the seed example', () => {
    expect(normaliseExecution(parsed(seedExecutionResult()))).toEqual(expectedSeed);
  });

  it.each([
    ['map', linkResultWithMap],
    ['list', linkResultWithList],
  ])('normalises a link_result with %s detections to the same form', (_form, example) => {
    const normalised = normaliseExecution(parsed(example()));
    const { operationName, linkId, attack, ...rest } = normalised;
    expect(rest).toEqual(expectedSeed);
    expect({ operationName, linkId, attack }).toEqual({
      operationName: 'purple-discovery',
      linkId: 'link-67890',
      attack: { tactic: 'discovery', techniqueId: 'T1033', techniqueName: 'System Owner/User Discovery' },
    });
  });

  it('keeps the seed shape’s optional ids and ATT&CK fields', () => {
    const normalised = normaliseExecution(
      parsed({ ...seedExecutionResult(), link_id: 'link-1', execution_id: 'exec-1', technique_id: 'T1033' }),
    );
    expect(normalised).toMatchObject({ linkId: 'link-1', executionId: 'exec-1', attack: { techniqueId: 'T1033' } });
  });

  it('omits attack when there are no ATT&CK fields', () => {
    expect(normaliseExecution(parsed(seedExecutionResult()))).not.toHaveProperty('attack');
  });

  it('carries detection settings and retries from both forms', () => {
    const fromMap = normaliseExecution(
      parsed(
        withPathValue(seedExecutionResult(), 'detections.api.siem', {
          query: 'search host={host}',
          platform: 'splunk',
          window_before_seconds: 60,
          detection_config: { window_before_seconds: 120, placeholders: { host: 'target' } },
          max_retries: 2,
        }),
      ),
    );
    expect(fromMap.detections[0]).toEqual({
      detectionType: 'api',
      platform: 'siem',
      connector: 'splunk',
      query: 'search host={host}',
      config: { window_before_seconds: 120, placeholders: { host: 'target' } },
      maxRetries: 2,
    });

    const fromList = normaliseExecution(
      parsed(
        withPathValue(linkResultWithList(), 'execution.detections', [
          {
            detection_type: 'api',
            detection_platform: 'splunk',
            detection_config: { query: 'index=main', window_after_seconds: 600 },
            max_retries: 3,
          },
        ]),
      ),
    );
    // Without a connector in detection_config, detection_platform names the connector too.
    expect(fromList.detections).toEqual([
      {
        detectionType: 'api',
        platform: 'splunk',
        connector: 'splunk',
        query: 'index=main',
        config: { window_after_seconds: 600 },
        maxRetries: 3,
      },
    ]);
  });

  it('uses the publication time when the agent time is absent, and null for an unknown exit code', () => {
    let message = withoutPath(linkResultWithMap(), 'execution.agent_reported_time');
    message = withPathValue(message, 'execution.result_data', 'administrator');
    const normalised = normaliseExecution(parsed(message));
    expect(normalised.executedAt).toEqual(new Date('2024-01-15T10:30:02.123Z'));
    expect(normalised.result).toEqual({ stdout: 'administrator', stderr: '', exitCode: null });
  });

  it('reads a time without offset as UTC', () => {
    const normalised = normaliseExecution(parsed({ ...seedExecutionResult(), timestamp: '2024-01-15T10:30:00' }));
    expect(normalised.executedAt.toISOString()).toBe('2024-01-15T10:30:00.000Z');
  });

  it('returns no detections for an execution without any', () => {
    expect(normaliseExecution(parsed(withoutPath(seedExecutionResult(), 'detections'))).detections).toEqual([]);
  });

  it('does not modify the message', () => {
    const value = parsed(linkResultWithMap());
    const before = JSON.stringify(value);
    normaliseExecution(value);
    expect(JSON.stringify(value)).toBe(before);
  });

  it('is the same for a message validated directly', () => {
    const result = validateMessage(ExecutionResultMessage, seedExecutionResult());
    expect(result.ok && normaliseExecution(result.value)).toEqual(expectedSeed);
  });
});
