import { Module } from '@nestjs/common';
import { AuthModule } from '@purple/auth';
import { BrokerModule } from '../broker/broker.module';
import { ClientsModule } from '../clients/clients.module';
import { DeadLettersController } from './dead-letters.controller';
import { ListDeadLettersUseCase } from './list-dead-letters.use-case';
import { ReplayDeadLettersUseCase } from './replay-dead-letters.use-case';

/** A client's dead-letter queue: list and replay. */
@Module({
  imports: [AuthModule, BrokerModule, ClientsModule],
  controllers: [DeadLettersController],
  providers: [ListDeadLettersUseCase, ReplayDeadLettersUseCase],
})
export class DeadLettersModule {}
