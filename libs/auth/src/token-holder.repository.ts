import { HttpException, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { BusClientEntity } from '@purple/persistence';
import { Repository } from 'typeorm';

/** What a token check needs to know about its client now. */
export interface TokenHolder {
  clientId: string;
  scopes: string;
  tokenVersion: number;
  incarnation: string;
}

/** The one lookup per authenticated request: the client's current token version and scopes, by primary key. */
@Injectable()
export class TokenHolderRepository {
  private readonly logger = new Logger('Auth');

  constructor(@InjectRepository(BusClientEntity) private readonly clients: Repository<BusClientEntity>) {}

  async find(clientId: string): Promise<TokenHolder | null> {
    if (!this.clients.manager.connection.isInitialized) throw new ServiceUnavailableException('the database is not available yet');
    try {
      return await this.clients.findOne({ select: { clientId: true, scopes: true, tokenVersion: true, incarnation: true }, where: { clientId } });
    } catch (error) {
      if (error instanceof HttpException) throw error;
      // the database's own message names tables and values: it goes to the log, never to the caller
      this.logger.error(`cannot check a token of ${clientId}: ${(error as Error).message}`);
      throw new ServiceUnavailableException('cannot check the token: the database failed; try again later');
    }
  }
}
