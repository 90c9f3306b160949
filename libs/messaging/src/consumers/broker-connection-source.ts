import { AmqpConnection } from '@golevelup/nestjs-rabbitmq';
import { Injectable } from '@nestjs/common';
import type { ChannelModel } from 'amqplib';
import { pause } from '@purple/platform';
import { ConnectionSource } from './queue-consumer';

const WAIT_FOR_CONNECTION_MS = 100;

/** The app's one RabbitMQ connection (golevelup's, as the router's own broker user), whenever it is up. */
@Injectable()
export class BrokerConnectionSource implements ConnectionSource {
  constructor(private readonly amqp: AmqpConnection) {}

  async connect(signal: AbortSignal): Promise<ChannelModel> {
    const manager = this.amqp.managedConnection;
    for (;;) {
      const connection = manager.connection;
      if (connection && manager.isConnected()) return connection;
      // amqp-connection-manager reconnects by itself; wait for it
      if (!(await pause(WAIT_FOR_CONNECTION_MS, signal))) throw new Error('stopped while waiting for the broker');
    }
  }
}
