/**
 * Names on the communications backbone: RabbitMQ topics and client ids.
 */

/** RabbitMQ refuses routing keys longer than 255 bytes (AMQP short string). */
export const TOPIC_MAX_LENGTH = 255;

/**
 * A concrete topic (routing key) a message is sent with: dot-separated, non-empty words.
 * `*` and `#` are refused because they are wildcards in the subscriptions the topic is matched
 * against; whitespace is refused because it is never intended and invisible in logs.
 * The length limit is not expressible here: use {@link isValidTopic}.
 */
export const TOPIC_PATTERN = /^[^\s.*#]+(?:\.[^\s.*#]+)*$/;

/** A subscription pattern: like a topic, but a word may also be exactly `*` or `#`. */
export const SUBSCRIPTION_PATTERN = /^(?:[^\s.*#]+|\*|#)(?:\.(?:[^\s.*#]+|\*|#))*$/;

/**
 * A client id: a lowercase DNS-label-like slug (1-63 chars), because it becomes part of queue
 * names (`<client_id>-inbox`), URLs and logs.
 */
export const CLIENT_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function withinTopicLength(value: string): boolean {
  // The broker counts bytes, not characters.
  return Buffer.byteLength(value, 'utf8') <= TOPIC_MAX_LENGTH;
}

/** True when `topic` can be used as the routing key of a sent message. */
export function isValidTopic(topic: unknown): topic is string {
  return typeof topic === 'string' && withinTopicLength(topic) && TOPIC_PATTERN.test(topic);
}

/** True when `pattern` is a valid subscription (topic pattern with `*` and `#`). */
export function isValidSubscription(pattern: unknown): pattern is string {
  return typeof pattern === 'string' && withinTopicLength(pattern) && SUBSCRIPTION_PATTERN.test(pattern);
}

/** True when `id` is a valid client id slug. */
export function isValidClientId(id: unknown): id is string {
  return typeof id === 'string' && CLIENT_ID_PATTERN.test(id);
}

/**
 * Whether a topic matches a subscription pattern, as a RabbitMQ topic exchange decides it: `*` is exactly one
 * word, `#` is zero or more words. The router uses it to choose each message's destination inboxes itself.
 */
export function subscriptionMatches(pattern: string, topic: string): boolean {
  const words = topic.split('.');
  const parts = pattern.split('.');
  // matches[i][j]: the first i parts of the pattern match the first j words of the topic
  let previous = Array<boolean>(words.length + 1).fill(false);
  previous[0] = true;
  for (const part of parts) {
    const current = Array<boolean>(words.length + 1).fill(false);
    if (part === '#') current[0] = previous[0];
    for (let j = 1; j <= words.length; j++) {
      if (part === '#') current[j] = previous[j] || current[j - 1];
      else current[j] = previous[j - 1] && (part === '*' || part === words[j - 1]);
    }
    previous = current;
  }
  return previous[words.length];
}
