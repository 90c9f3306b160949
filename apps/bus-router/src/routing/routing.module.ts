import { Module } from '@nestjs/common';
import { EnvelopePublisher } from './envelope-publisher';
import { ForwardBroadcastMessage } from './forward-broadcast-message';
import { ForwardOutboxMessage } from './forward-outbox-message';

/** Outbox → subscribers by topic, broadcast → everyone. */
@Module({
  providers: [EnvelopePublisher, ForwardOutboxMessage, ForwardBroadcastMessage],
  exports: [ForwardOutboxMessage, ForwardBroadcastMessage],
})
export class RoutingModule {}
