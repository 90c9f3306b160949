import { MESSAGE_CLASSES, MessageName, messageJsonSchema, messageJsonSchemas } from './index';

type Schema = {
  required?: string[];
  properties?: Record<string, Schema>;
  definitions?: Record<string, Schema>;
  [key: string]: unknown;
};

const schemas = messageJsonSchemas() as unknown as Record<string, Schema>;

describe('messageJsonSchemas', () => {
  it.each<[string, string[]]>([
    [
      'ExecutionResultMessage',
      ['operation_id', 'command', 'result', 'timestamp'],
    ],
    ['ExecutionOutput', ['stdout', 'stderr', 'exit_code']],
    ['LinkResultMessage', ['message_type', 'timestamp', 'operation', 'execution']],
    ['LinkExecution', ['command']],
    ['DetectionListEntry', ['detection_type', 'detection_platform', 'detection_config']],
    ['ApiDetectionSpec', ['query', 'platform']],
    ['AgentDetectionSpec', ['command', 'platform']],
    ['DetectionTaskMessage', ['task_id', 'operation_id', 'detection_type', 'platform', 'query', 'metadata']],
    ['DetectionQuery', ['type', 'content', 'timeout_seconds']],
    ['TaskMetadata', ['priority', 'created_at', 'execution_context']],
    ['ExecutionContext', ['original_command', 'target_host']],
    [
      'DetectionResponseMessage',
      [
        'detection_id',
        'task_id',
        'execution_id',
        'detection_type',
        'platform',
        'detected',
        'confidence',
        'results',
        'timestamp',
        'metadata',
      ],
    ],
    ['DetectionResults', ['events_found', 'execution_time_ms']],
    ['ResponseMetadata', ['worker_id', 'version']],
    ['BusEnvelope', ['message_id', 'topic', 'sender', 'sent_at', 'message']],
    ['SendRequest', ['topic', 'message']],
    ['NotifyRequest', ['message']],
  ])('%s requires exactly its required fields', (name, required) => {
    expect(schemas[name].required?.sort()).toEqual([...required].sort());
  });

  it('asks for the host or the paw of an execution', () => {
    for (const name of ['ExecutionResultMessage', 'LinkExecution']) {
      expect(schemas[name].anyOf).toEqual([{ required: ['agent_host'] }, { required: ['agent_paw'] }]);
    }
  });

  it('types fields from the validators', () => {
    const task = schemas['DetectionTaskMessage'].properties ?? {};
    expect(task['detection_type']).toMatchObject({ type: 'string', enum: ['api', 'agent'] });
    expect(task['attempt']).toMatchObject({ type: 'integer', minimum: 1 });
    expect(schemas['DetectionResponseMessage'].properties?.['confidence']).toMatchObject({
      type: 'number',
      minimum: 0,
      maximum: 1,
    });
    expect(schemas['BusEnvelope'].properties?.['topic']).toMatchObject({ type: 'string', maxLength: 255 });
    expect(schemas['DetectionsMap']).toMatchObject({ additionalProperties: false });
    expect(schemas['DetectionsMap'].properties?.['api']).toMatchObject({
      type: 'object',
      additionalProperties: { $ref: '#/definitions/ApiDetectionSpec' },
    });
  });

  it('never refers to a class it does not define', () => {
    const refs = JSON.stringify(schemas).match(/#\/definitions\/\w+/g) ?? [];
    for (const ref of new Set(refs)) expect(schemas).toHaveProperty(ref.replace('#/definitions/', ''));
  });
});

describe('messageJsonSchema', () => {
  it.each(Object.keys(MESSAGE_CLASSES) as MessageName[])('%s is standalone', (name) => {
    const schema = messageJsonSchema(name) as unknown as Schema;
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const refs = JSON.stringify(schema).match(/#\/definitions\/\w+/g) ?? [];
    for (const ref of new Set(refs)) expect(schema.definitions).toHaveProperty(ref.replace('#/definitions/', ''));
  });
});
