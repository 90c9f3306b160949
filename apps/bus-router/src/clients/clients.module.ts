import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BusClientEntity } from '@purple/persistence';
import { BusClientRepository } from './bus-client.repository';
import { ClientChangeListener } from './client-change-listener';

/** The registry of bus clients in PostgreSQL, and the news of their changes. */
@Module({
  imports: [TypeOrmModule.forFeature([BusClientEntity])],
  providers: [BusClientRepository, ClientChangeListener],
  exports: [BusClientRepository, ClientChangeListener],
})
export class ClientsModule {}
