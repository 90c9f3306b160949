import 'reflect-metadata';
import type { ConsumeMessage, MessageProperties } from 'amqplib';
import { loadConfig } from '@purple/platform';
import { BusRouterEnv } from '../src/config';
import { Delivery } from '@purple/messaging';

/** The router's configuration as a unit test wants it: fast retries. */
export function testConfig(overrides: Record<string, string> = {}): BusRouterEnv {
  return loadConfig(BusRouterEnv, {
    WEBHOOK_SECRET_KEY: 'unit-test-webhook-secret-key',
    WEBHOOK_BACKOFF_BASE_MS: '1',
    WEBHOOK_BACKOFF_MAX_MS: '2',
    ROUTER_RETRY_BASE_MS: '10',
    ROUTER_RETRY_MAX_MS: '10',
    ...overrides,
  });
}

export interface PublishedMessage {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Record<string, unknown>;
}

/**
 * A consumed message and a channel that records what is confirmed. `refuse` decides, per publish, the error it
 * fails with (a broker nack is `new Error('message nacked')`), or undefined to confirm it.
 */
export function fakeDelivery(body: unknown, properties: Partial<MessageProperties> = {}, refuse: (publish: PublishedMessage) => Error | undefined = () => undefined) {
  const published: PublishedMessage[] = [];
  const abort = new AbortController();
  let attempts = 0;
  const content = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const delivery: Delivery = {
    message: {
      content,
      fields: { deliveryTag: 1, redelivered: false, exchange: 'soar-send', routingKey: 'noc-c2', consumerTag: 'c' },
      properties: { headers: {}, ...properties } as MessageProperties,
    } as ConsumeMessage,
    signal: abort.signal,
    publish: async (exchange, routingKey, published_content, options) => {
      attempts++;
      const publish = { exchange, routingKey, content: published_content, options: options as Record<string, unknown> };
      const error = refuse(publish);
      if (error) throw error;
      published.push(publish);
    },
  };
  return { delivery, published, abort, attempts: () => attempts };
}
