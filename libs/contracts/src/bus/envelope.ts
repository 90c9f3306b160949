import { IsUUID } from 'class-validator';
import { composeDecorators, customConstraint, IsRequired, JsonSchemaOverride, RequiredDateTime } from '../decorators';
import { CLIENT_ID_PATTERN, isValidClientId, isValidTopic, TOPIC_MAX_LENGTH, TOPIC_PATTERN } from '../topics';

function TopicField(): PropertyDecorator {
  return composeDecorators(
    IsRequired(),
    customConstraint(
      'isTopic',
      isValidTopic,
      `$property must be a topic: dot-separated non-empty words without * or # or spaces, at most ${TOPIC_MAX_LENGTH} bytes`,
    ),
    JsonSchemaOverride({ type: 'string', pattern: TOPIC_PATTERN.source, maxLength: TOPIC_MAX_LENGTH }),
  );
}

function ClientIdField(): PropertyDecorator {
  return composeDecorators(
    IsRequired(),
    customConstraint(
      'isClientId',
      isValidClientId,
      '$property must be a client id: 1-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen',
    ),
    JsonSchemaOverride({ type: 'string', pattern: CLIENT_ID_PATTERN.source, maxLength: 63 }),
  );
}

/**
 * Any JSON value, but present: `IsDefined` would also refuse `null`, which is a JSON value.
 * The value is not inspected: the bus carries clients' messages opaquely.
 */
function JsonValueField(): PropertyDecorator {
  return composeDecorators(
    customConstraint('isJsonValue', (value) => value !== undefined, '$property is required'),
    JsonSchemaOverride({ description: 'any JSON value' }),
  );
}

/** A message as delivered to a client's inbox (HTTP receive, WebSocket, webhook). */
export class BusEnvelope {
  /** Unique per message; receivers dedupe on it (the webhook's `webhook-id`). */
  @IsRequired()
  @IsUUID()
  message_id: string;

  /**
   * The topic it was sent with. A notify has no topic of its own: the router must give broadcast
   * envelopes one (a convention of the router, not fixed here).
   */
  @TopicField()
  topic: string;

  /** Client id of the sender. */
  @ClientIdField()
  sender: string;

  @RequiredDateTime()
  sent_at: string;

  @JsonValueField()
  message: unknown;
}

/** `POST /send` body (and the WebSocket's send): publish `message` with `topic`. */
export class SendRequest {
  @TopicField()
  topic: string;

  @JsonValueField()
  message: unknown;
}

/** `POST /notify` body (and the WebSocket's notify): broadcast `message` to every client. */
export class NotifyRequest {
  @JsonValueField()
  message: unknown;
}
