import { Module } from '@nestjs/common';
import { DestinationDirectory } from './destination-directory';
import { EnvelopePublisher } from './envelope-publisher';
import { ForwardBroadcastMessage } from './forward-broadcast-message';
import { ForwardOutboxMessage } from './forward-outbox-message';
import { RetryParkedCopy } from './retry-parked-copy';

/** Outbox → subscribers by topic, broadcast → everyone, one copy per inbox; refused copies retried, then dead-lettered. */
@Module({
  providers: [DestinationDirectory, EnvelopePublisher, ForwardOutboxMessage, ForwardBroadcastMessage, RetryParkedCopy],
  exports: [DestinationDirectory, ForwardOutboxMessage, ForwardBroadcastMessage, RetryParkedCopy],
})
export class RoutingModule {}
