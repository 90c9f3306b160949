import { AmqpConnection } from '@golevelup/nestjs-rabbitmq';
import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { messagesPublished } from './metrics';

export interface PublishOptions {
  messageId?: string;
  correlationId?: string;
  headers?: Record<string, unknown>;
  /** how long to wait for the broker's confirm */
  timeoutMs?: number;
}

/** Thrown, at once, when the broker is not connected: nothing is buffered in memory for a crash to lose. */
export class BrokerUnavailableError extends ServiceUnavailableException {
  constructor(reason = 'message broker unavailable') {
    super(reason);
  }
}

/**
 * The broker refused the message (a nack): with `overflow: reject-publish`, a destination queue is at its
 * max-length. Nothing was queued; the caller retries later, once the queue's consumers have caught up.
 */
export class BrokerRefusedError extends BrokerUnavailableError {
  constructor() {
    super('the broker refused the message: a destination queue is full; nothing was queued, retry later');
  }
}

/** amqplib's error for a publish the broker nacked */
const NACKED = 'message nacked';

/**
 * Publishes persistent JSON messages and resolves only once the broker has confirmed them. golevelup's channel is
 * a confirm channel; the connection check first avoids amqp-connection-manager's in-memory queue while offline.
 */
@Injectable()
export class ConfirmedPublisher {
  constructor(private readonly amqp: AmqpConnection) {}

  get connected(): boolean {
    return this.amqp.managedConnection.isConnected();
  }

  async publish(exchange: string, routingKey: string, body: unknown, options: PublishOptions = {}): Promise<string> {
    if (!this.connected) throw new BrokerUnavailableError();
    const messageId = options.messageId ?? randomUUID();
    try {
      await this.amqp.managedChannel.publish(exchange, routingKey, Buffer.from(JSON.stringify(body)), {
        persistent: true,
        contentType: 'application/json',
        messageId,
        correlationId: options.correlationId,
        timestamp: Math.floor(Date.now() / 1000),
        headers: options.headers,
        timeout: options.timeoutMs ?? 10_000,
      });
    } catch (error) {
      if ((error as Error)?.message === NACKED) throw new BrokerRefusedError();
      throw new BrokerUnavailableError(`broker did not confirm the message: ${(error as Error).message}`);
    }
    messagesPublished.inc({ exchange, routing_key: routingKey });
    return messageId;
  }
}
