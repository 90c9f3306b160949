import { Module } from '@nestjs/common';
import { AuthModule } from '@purple/auth';
import { BrokerModule } from '../broker/broker.module';
import { MessagesModule } from '../messages/messages.module';
import { StreamServer } from './stream-server';

/** The inbox as a WebSocket stream at /stream, with send and notify frames. */
@Module({
  imports: [AuthModule, BrokerModule, MessagesModule],
  providers: [StreamServer],
})
export class StreamModule {}
