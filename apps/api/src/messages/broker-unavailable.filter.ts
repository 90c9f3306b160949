import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import { BrokerRefusedError, BrokerUnavailableError } from '@purple/messaging';
import type { Response } from 'express';

/**
 * Seconds a client should wait before sending again: a full queue drains at its consumers' pace (seconds), a broker
 * that went away is usually back after a reconnect (a second).
 */
export const RETRY_AFTER_QUEUE_FULL_SECONDS = 5;
export const RETRY_AFTER_BROKER_UNAVAILABLE_SECONDS = 1;

/**
 * A send or notify the broker did not take answers 503 with Retry-After, so a client backs off instead of hammering
 * a full outbox (a nack under `reject-publish`) or a reconnecting api.
 */
@Catch(BrokerUnavailableError)
export class BrokerUnavailableFilter implements ExceptionFilter {
  catch(error: BrokerUnavailableError, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const seconds = error instanceof BrokerRefusedError ? RETRY_AFTER_QUEUE_FULL_SECONDS : RETRY_AFTER_BROKER_UNAVAILABLE_SECONDS;
    res.set('Retry-After', String(seconds));
    res.status(error.getStatus()).json(error.getResponse());
  }
}
