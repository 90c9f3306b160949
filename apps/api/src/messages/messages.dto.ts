import { ApiProperty, ApiPropertyOptional, ApiPropertyOptions } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { TOPIC_MAX_LENGTH, TOPIC_PATTERN } from '@purple/contracts';

/** OpenAPI for "any JSON value": the bus carries messages opaquely. */
export const ANY_JSON: ApiPropertyOptions = {
  description: 'any JSON value',
  oneOf: [{ type: 'object' }, { type: 'array', items: {} }, { type: 'string' }, { type: 'number' }, { type: 'boolean' }],
  nullable: true,
};

// The request bodies are validated with the contracts (SendRequest, NotifyRequest in @purple/contracts);
// these classes only describe them for Swagger.

export class SendRequestDoc {
  @ApiProperty({
    description: 'a topic: dot-separated non-empty words without * or # or spaces',
    pattern: TOPIC_PATTERN.source,
    maxLength: TOPIC_MAX_LENGTH,
    example: 'soar.noc.slocum.something',
  })
  topic!: string;

  @ApiProperty({ ...ANY_JSON, example: { lat: 50.1, lon: -4.2 } } as ApiPropertyOptions)
  message!: unknown;
}

export class NotifyRequestDoc {
  @ApiProperty({ ...ANY_JSON, example: { text: 'all vehicles surface' } } as ApiPropertyOptions)
  message!: unknown;
}

export class AcceptedMessageDto {
  @ApiProperty({ format: 'uuid', description: 'the id the message is delivered with (receivers dedupe on it)' })
  message_id!: string;
}

export class EnvelopeDto {
  @ApiProperty({ format: 'uuid' })
  message_id!: string;

  @ApiProperty({ description: 'the topic it was sent with (`broadcast` for a notify)', example: 'soar.noc.slocum.something' })
  topic!: string;

  @ApiProperty({ description: 'client id of the sender', example: 'noc-c2' })
  sender!: string;

  @ApiProperty({ format: 'date-time' })
  sent_at!: string;

  @ApiProperty(ANY_JSON)
  message!: unknown;
}

export const MAX_RECEIVE_MESSAGES = 100;
export const MAX_RECEIVE_WAIT_SECONDS = 20;

export class ReceiveQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_RECEIVE_MESSAGES, default: 10, description: 'at most this many messages' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_RECEIVE_MESSAGES)
  max_messages = 10;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: MAX_RECEIVE_WAIT_SECONDS,
    default: 0,
    description: 'when the inbox is empty, wait up to this long for the first message',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_RECEIVE_WAIT_SECONDS)
  wait_seconds = 0;
}
