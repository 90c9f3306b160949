import { ClassConstructor } from 'class-transformer';
import {
  BusEnvelope,
  DetectionResponseMessage,
  DetectionTaskMessage,
  ExecutionResultMessage,
  LinkResultMessage,
  NotifyRequest,
  SendRequest,
  validateMessage,
} from './index';
import {
  busEnvelope,
  linkResultWithList,
  linkResultWithMap,
  seedDetectionResponse,
  seedDetectionTask,
  seedExecutionResult,
} from './fixtures/seed-examples';
import { valueAt, withoutPath, withPathValue, wrongTypeFor } from './fixtures/paths';

interface Contract {
  name: string;
  cls: ClassConstructor<object>;
  example: () => Record<string, unknown>;
  /** Every required field, nested ones by path, as they occur in `example`. */
  required: string[];
  /** Required fields that accept any JSON value, so have no wrong type. */
  anyType?: string[];
}

const contracts: Contract[] = [
  {
    name: 'ExecutionResultMessage (seed)',
    cls: ExecutionResultMessage,
    example: seedExecutionResult,
    required: [
      'operation_id',
      'command',
      'result',
      'result.stdout',
      'result.stderr',
      'result.exit_code',
      'timestamp',
    ],
  },
  {
    name: 'LinkResultMessage (map detections)',
    cls: LinkResultMessage,
    example: linkResultWithMap,
    required: [
      'message_type',
      'timestamp',
      'operation',
      'operation.id',
      'execution',
      'execution.command',
    ],
  },
  {
    name: 'LinkResultMessage (list detections)',
    cls: LinkResultMessage,
    example: linkResultWithList,
    required: ['execution.command'],
  },
  {
    name: 'DetectionTaskMessage (seed)',
    cls: DetectionTaskMessage,
    example: seedDetectionTask,
    required: [
      'task_id',
      'operation_id',
      'detection_type',
      'platform',
      'query',
      'query.type',
      'query.content',
      'query.timeout_seconds',
      'metadata',
      'metadata.priority',
      'metadata.created_at',
      'metadata.execution_context',
      'metadata.execution_context.original_command',
      'metadata.execution_context.target_host',
    ],
  },
  {
    name: 'DetectionResponseMessage (seed)',
    cls: DetectionResponseMessage,
    example: seedDetectionResponse,
    required: [
      'detection_id',
      'task_id',
      'execution_id',
      'detection_type',
      'platform',
      'detected',
      'confidence',
      'results',
      'results.events_found',
      'results.execution_time_ms',
      'timestamp',
      'metadata',
      'metadata.worker_id',
      'metadata.version',
    ],
  },
  {
    name: 'BusEnvelope',
    cls: BusEnvelope,
    example: busEnvelope,
    required: ['message_id', 'topic', 'sender', 'sent_at', 'message'],
    anyType: ['message'],
  },
  {
    name: 'SendRequest',
    cls: SendRequest,
    example: () => ({ topic: 'soar.noc.slocum.something', message: 'hello' }),
    required: ['topic', 'message'],
    anyType: ['message'],
  },
  {
    name: 'NotifyRequest',
    cls: NotifyRequest,
    example: () => ({ message: { text: 'all stop' } }),
    required: ['message'],
    anyType: ['message'],
  },
];

function expectRefused(result: ReturnType<typeof validateMessage>): string[] {
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.errors;
}

describe.each(contracts)('$name', ({ cls, example, required, anyType = [] }) => {
  it('accepts the example', () => {
    const result = validateMessage(cls, example());
    expect(result).toMatchObject({ ok: true });
    if (result.ok) expect(result.value).toBeInstanceOf(cls);
  });

  it.each(required)('refuses it without %s, naming the field', (path) => {
    const errors = expectRefused(validateMessage(cls, withoutPath(example(), path)));
    expect(errors).toContain(`${path} is required`);
  });

  // Fields that accept any JSON value have no wrong type, and null is one of their values.
  const typed = required.filter((path) => !anyType.includes(path));
  if (typed.length === 0) return;

  it.each(typed)('refuses %s of the wrong type, naming the field', (path) => {
    const value = wrongTypeFor(valueAt(example(), path));
    const errors = expectRefused(validateMessage(cls, withPathValue(example(), path, value)));
    expect(errors).toHaveLength(1);
    expect(errors[0].startsWith(`${path} `)).toBe(true);
  });

  it.each(typed)('refuses %s as null', (path) => {
    const errors = expectRefused(validateMessage(cls, withPathValue(example(), path, null)));
    expect(errors).toEqual([`${path} is required`]);
  });
});

describe('messages in detail', () => {
  it('names nested paths in class-validator wording', () => {
    const errors = expectRefused(
      validateMessage(ExecutionResultMessage, withPathValue(seedExecutionResult(), 'result.exit_code', 1.5)),
    );
    expect(errors).toEqual(['result.exit_code must be an integer number']);
  });

  it('reports every bad field at once', () => {
    const errors = expectRefused(validateMessage(ExecutionResultMessage, {}));
    expect(errors).toEqual([
      'operation_id is required',
      'agent_host is required',
      'agent_paw is required',
      'command is required',
      'result is required',
      'timestamp is required',
    ]);
  });

  it('keeps unknown fields (newer producers must not be dead-lettered)', () => {
    const result = validateMessage(ExecutionResultMessage, { ...seedExecutionResult(), future_field: 1 });
    expect(result.ok && (result.value as unknown as Record<string, unknown>)['future_field']).toBe(1);
  });

  it('accepts the seed fields plus the optional ATT&CK and id fields', () => {
    const result = validateMessage(ExecutionResultMessage, {
      ...seedExecutionResult(),
      tactic: 'discovery',
      technique_id: 'T1033',
      technique_name: 'System Owner/User Discovery',
      execution_id: 'exec-1',
      link_id: 'link-1',
    });
    expect(result.ok).toBe(true);
  });

  it('accepts an execution without detections', () => {
    expect(validateMessage(ExecutionResultMessage, withoutPath(seedExecutionResult(), 'detections')).ok).toBe(true);
  });

  it.each([
    ['2024-01-15T10:30:00Z', true],
    ['2024-01-15T10:30:00.123456+00:00', true],
    ['2024-01-15T10:30:00', true],
    ['2024-01-15 10:30', true],
    ['2024-01-15', false],
    ['2024-02-30T10:30:00Z', false],
    ['2024-01-15T25:00:00Z', false],
    ['yesterday', false],
  ])('timestamp %s is accepted: %s', (timestamp, ok) => {
    expect(validateMessage(ExecutionResultMessage, { ...seedExecutionResult(), timestamp }).ok).toBe(ok);
  });

  it('needs the host or the paw, not both, and checks whichever is given', () => {
    expect(validateMessage(ExecutionResultMessage, withoutPath(seedExecutionResult(), 'agent_host')).ok).toBe(true);
    expect(validateMessage(ExecutionResultMessage, withoutPath(seedExecutionResult(), 'agent_paw')).ok).toBe(true);
    const neither = withoutPath(withoutPath(seedExecutionResult(), 'agent_host'), 'agent_paw');
    expect(expectRefused(validateMessage(ExecutionResultMessage, neither))).toEqual(['agent_host is required', 'agent_paw is required']);
    expect(expectRefused(validateMessage(ExecutionResultMessage, withPathValue(seedExecutionResult(), 'agent_host', 42)))).toEqual([
      'agent_host must be a string',
    ]);
    expect(expectRefused(validateMessage(LinkResultMessage, withPathValue(linkResultWithMap(), 'execution.agent_paw', [])))).toEqual([
      'execution.agent_paw must be a string',
    ]);
  });

  it('leaves the detections to be read entry by entry: a bad entry does not refuse the message', () => {
    for (const detections of [{ network: { ids: { query: 'x', platform: 'zeek' } } }, [{ detection_type: 'mainframe' }], 'not detections', 7]) {
      expect(validateMessage(ExecutionResultMessage, { ...seedExecutionResult(), detections }).ok).toBe(true);
      expect(validateMessage(LinkResultMessage, withPathValue(linkResultWithMap(), 'execution.detections', detections)).ok).toBe(true);
    }
  });

  describe('detection task extensions', () => {
    const extended = () => ({
      ...seedDetectionTask(),
      execution_id: 'exec-12345',
      attempt: 1,
      connector: 'splunk',
      correlation_id: 'corr-1',
      detection_config: {
        window_before_seconds: 300,
        window_after_seconds: 900,
        initial_delay_seconds: 60,
        retry_interval_seconds: 30,
        placeholders: { host: 'target-machine.local', user: 'administrator' },
      },
    });

    it('accepts them', () => {
      expect(validateMessage(DetectionTaskMessage, extended()).ok).toBe(true);
    });

    it.each([
      ['attempt', 0, 'attempt must not be less than 1'],
      ['detection_config.retry_interval_seconds', 0, 'detection_config.retry_interval_seconds must not be less than 1'],
      ['detection_config.window_before_seconds', -1, 'detection_config.window_before_seconds must not be less than 0'],
      ['detection_config.placeholders.host', 7, 'detection_config.placeholders.host must be a string'],
      ['metadata.priority', 'urgent', 'metadata.priority must be one of the following values: high, medium, low'],
      ['detection_type', 'network', 'detection_type must be one of the following values: api, agent'],
    ])('refuses %s = %p', (path, value, message) => {
      expect(expectRefused(validateMessage(DetectionTaskMessage, withPathValue(extended(), path, value)))).toEqual([
        message,
      ]);
    });
  });

  describe('detection response extensions', () => {
    const extended = () => ({
      ...seedDetectionResponse(),
      status: 'detected',
      attempt: 2,
      evidence: [{ id: 'alert-1', link: 'https://siem.example/alert/1', event_time: '2024-01-15T10:30:05Z' }, {}],
    });

    it('accepts them', () => {
      expect(validateMessage(DetectionResponseMessage, extended()).ok).toBe(true);
      expect(
        validateMessage(DetectionResponseMessage, { ...seedDetectionResponse(), status: 'error', error: 'timeout' }).ok,
      ).toBe(true);
    });

    it.each([
      ['status', 'maybe', 'status must be one of the following values: detected, not_detected, unsupported, error'],
      ['confidence', 1.5, 'confidence must not be greater than 1'],
      ['confidence', -0.1, 'confidence must not be less than 0'],
      ['results.events_found', -1, 'results.events_found must not be less than 0'],
      ['evidence', {}, 'evidence must be a list'],
      ['evidence[0].event_time', 'soon', 'evidence[0].event_time must be an ISO-8601 date-time'],
      ['evidence[1]', 'alert-2', 'evidence[1] must be an object'],
    ])('refuses %s = %p', (path, value, message) => {
      expect(expectRefused(validateMessage(DetectionResponseMessage, withPathValue(extended(), path, value)))).toEqual(
        [message],
      );
    });
  });
});
