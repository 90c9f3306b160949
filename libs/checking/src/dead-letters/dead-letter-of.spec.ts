import { deadLetterOf, jsonSafe } from './dead-letter-of';

const body = Buffer.from('{"operation_id": ');

describe('deadLetterOf', () => {
  it('reads the queue and reason our consumers put in the headers', () => {
    const record = deadLetterOf(
      {
        content: body,
        fields: { routingKey: 'caldera.checking.instructions', redelivered: false },
        properties: {
          messageId: 'm-1',
          correlationId: undefined,
          headers: {
            'x-rejection-reason': 'invalid execution result: invalid JSON: Unexpected end of JSON input',
            'x-original-queue': 'caldera.checking.instructions',
            'x-original-routing-key': 'caldera.execution.result',
            'x-correlation-id': 'corr-7',
          },
        },
      },
      'caldera.checking.instructions.dlq',
    );
    expect(record).toEqual({
      queue: 'caldera.checking.instructions',
      reason: 'invalid execution result: invalid JSON: Unexpected end of JSON input',
      messageId: 'm-1',
      correlationId: 'corr-7',
      routingKey: 'caldera.execution.result',
      headers: expect.objectContaining({ 'x-original-queue': 'caldera.checking.instructions' }),
      body,
    });
  });

  it("falls back to the broker's x-death entry, explaining its reason", () => {
    const record = deadLetterOf(
      {
        content: body,
        fields: { routingKey: 'caldera.checking.api.tasks', redelivered: false },
        properties: {
          messageId: undefined,
          correlationId: 'corr-8',
          headers: {
            'x-death': [
              {
                count: 1,
                reason: 'expired',
                queue: 'caldera.checking.api.tasks',
                time: { '!': 'timestamp', value: 1705314600 },
                exchange: 'caldera.checking.exchange',
                'routing-keys': ['checking.api.task'],
              },
              {
                count: 1,
                reason: 'rejected',
                queue: 'caldera.checking.instructions',
                time: { '!': 'timestamp', value: 1705314000 },
                exchange: '',
                'routing-keys': ['caldera.checking.instructions'],
              },
            ],
          },
        },
      },
      'caldera.checking.api.tasks.dlq',
    );
    expect(record).toMatchObject({
      queue: 'caldera.checking.api.tasks',
      reason: 'expired: it waited in the queue longer than the message TTL (caldera.checking.api.tasks)',
      messageId: null,
      correlationId: 'corr-8',
      routingKey: 'checking.api.task',
    });
  });

  it('still records a message that says nothing about itself, under its dead-letter queue', () => {
    const record = deadLetterOf(
      {
        content: body,
        fields: { routingKey: 'caldera.checking.agent.responses', redelivered: false },
        properties: { messageId: undefined, correlationId: undefined, headers: undefined },
      },
      'caldera.checking.agent.responses.dlq',
    );
    expect(record).toMatchObject({
      queue: 'caldera.checking.agent.responses',
      reason: 'dead-lettered without a reason',
      routingKey: 'caldera.checking.agent.responses',
      headers: {},
    });
  });
});

describe('jsonSafe', () => {
  it('turns AMQP header values into JSON that jsonb accepts', () => {
    expect(
      jsonSafe({
        text: 'a\u0000b',
        buffer: Buffer.from('utf-8 text'),
        binary: Buffer.from([0xff, 0x00, 0x01]),
        big: 12345678901234567890n,
        when: new Date('2024-01-15T10:30:00Z'),
        nested: [{ 'k\u0000': Infinity }],
        gone: undefined,
      }),
    ).toEqual({
      text: 'ab',
      buffer: 'utf-8 text',
      binary: { base64: '/wAB' },
      big: '12345678901234567890',
      when: '2024-01-15T10:30:00.000Z',
      nested: [{ k: 'Infinity' }],
    });
  });
});
