import { Module } from '@nestjs/common';
import { AuthModule } from '@purple/auth';
import { BrokerModule } from '../broker/broker.module';
import { MessagesController } from './messages.controller';
import { DeliveredMessageRepository } from './delivered-message.repository';
import { IdempotencyKeyRepository } from './idempotency-key.repository';
import { IdempotentPublisher } from './idempotent-publisher';
import { NotifyUseCase } from './notify.use-case';
import { ReceiveMessagesUseCase } from './receive-messages.use-case';
import { ReceiverDedupe } from './receiver-dedupe';
import { SendQuota } from './send-quota';
import { SendMessageUseCase } from './send-message.use-case';

/** Send, notify and receive over HTTP (the WebSocket reuses the send and notify use cases). */
@Module({
  imports: [AuthModule, BrokerModule],
  controllers: [MessagesController],
  providers: [
    IdempotencyKeyRepository,
    IdempotentPublisher,
    SendQuota,
    DeliveredMessageRepository,
    ReceiverDedupe,
    SendMessageUseCase,
    NotifyUseCase,
    ReceiveMessagesUseCase,
  ],
  exports: [SendMessageUseCase, NotifyUseCase, ReceiverDedupe],
})
export class MessagesModule {}
