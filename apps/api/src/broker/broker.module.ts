import { Module } from '@nestjs/common';
import { BrokerChannels } from './broker-channels';
import { DeadLetterQueue } from './dead-letter-queue';
import { InboxReader } from './inbox-reader';

/** Per-request and per-WebSocket channels on the app's broker connection (MessagingModule), and what uses them. */
@Module({
  providers: [BrokerChannels, InboxReader, DeadLetterQueue],
  exports: [BrokerChannels, InboxReader, DeadLetterQueue],
})
export class BrokerModule {}
