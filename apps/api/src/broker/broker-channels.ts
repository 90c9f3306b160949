import { AmqpConnection } from '@golevelup/nestjs-rabbitmq';
import { HttpException, Inject, Injectable } from '@nestjs/common';
import { APP_ROLE, BrokerUnavailableError } from '@purple/messaging';
import { AppRole, clientQueues } from '@purple/topology';
import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';

/**
 * Channels of their own, on the app's one connection, for work whose acks belong to one request or one WebSocket:
 * closing the channel returns whatever it has not acked to its queue, so a dropped caller loses nothing.
 */
@Injectable()
export class BrokerChannels {
  constructor(
    private readonly amqp: AmqpConnection,
    @Inject(APP_ROLE) private readonly role: AppRole,
  ) {}

  get vhost(): string {
    return this.role.vhost;
  }

  get connected(): boolean {
    return this.amqp.managedConnection.isConnected();
  }

  /** @throws BrokerUnavailableError (503) at once while the broker is not connected */
  async open(): Promise<Channel> {
    const channel = await this.connection().createChannel().catch(unavailable);
    channel.on('error', () => undefined); // a channel-level error closes only this channel; callers see it as a failure
    return channel;
  }

  async openConfirm(): Promise<ConfirmChannel> {
    const channel = await this.connection().createConfirmChannel().catch(unavailable);
    channel.on('error', () => undefined);
    return channel;
  }

  private connection(): ChannelModel {
    const current = (this.amqp.managedConnection as unknown as { connection?: ChannelModel }).connection;
    if (!this.connected || !current) throw new BrokerUnavailableError();
    return current;
  }
}

function unavailable(error: Error): never {
  throw new BrokerUnavailableError(`message broker unavailable: ${error.message}`);
}

/** A broker failure in the middle of a request, as a 503 that says what could not be done. */
export function brokerFailure(what: string, error: unknown): HttpException {
  return error instanceof HttpException ? error : new BrokerUnavailableError(`cannot ${what}: ${brokerErrorMessage(error)}`);
}

/** amqplib rejects an operation on a channel the broker closed with the close frame itself, not an Error. */
export function brokerErrorMessage(error: unknown): string {
  const replyText = (error as { fields?: { replyText?: unknown } } | null)?.fields?.replyText;
  if (typeof replyText === 'string') return replyText;
  return error instanceof Error ? error.message : String(error);
}

/** Closes a channel, ignoring that it may be closed already. */
export async function closeQuietly(channel: Channel): Promise<void> {
  await channel.close().catch(() => undefined);
}

export const inboxOf = (clientId: string) => clientQueues(clientId).inbox;
export const deadLetterQueueOf = (clientId: string) => clientQueues(clientId).deadLetter;
