import { Module } from '@nestjs/common';
import { BrokerChannels } from './broker-channels';
import { ClientChannelQuota } from './client-channel-quota';
import { DeadLetterQueue } from './dead-letter-queue';
import { InboxReader } from './inbox-reader';

/** Per-request and per-WebSocket channels on the app's broker connection (MessagingModule), and what uses them. */
@Module({
  providers: [BrokerChannels, InboxReader, DeadLetterQueue, ClientChannelQuota],
  exports: [BrokerChannels, InboxReader, DeadLetterQueue, ClientChannelQuota],
})
export class BrokerModule {}
