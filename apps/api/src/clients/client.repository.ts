import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { BusClientEntity } from '@purple/persistence';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';

export type NewClient = Pick<
  BusClientEntity,
  'clientId' | 'clientName' | 'subscription' | 'webhookUrl' | 'webhookEnabled' | 'webhookSecretCiphertext' | 'secretHash' | 'scopes'
>;

export type ClientChanges = Partial<Pick<BusClientEntity, 'clientName' | 'subscription' | 'webhookUrl' | 'webhookEnabled' | 'webhookSecretCiphertext' | 'scopes' | 'secretHash' | 'tokenVersion'>>;

export class ClientExistsError extends Error {
  override readonly name = 'ClientExistsError';
}

const UNIQUE_VIOLATION = '23505';

/**
 * The client registry in PostgreSQL. Changes that also touch the broker run that work while the client's row is
 * locked in an open transaction: concurrent changes to one client are serialised, and a broker failure rolls the
 * row back. The `bus_client_changed` trigger tells the bus-router only when the transaction commits.
 */
@Injectable()
export class ClientRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  findById(clientId: string): Promise<BusClientEntity | null> {
    return this.db().getRepository(BusClientEntity).findOneBy({ clientId });
  }

  list(): Promise<BusClientEntity[]> {
    return this.db().getRepository(BusClientEntity).find({ order: { clientId: 'ASC' } });
  }

  /**
   * Inserts the client, runs `whileLocked` (its id is reserved: a concurrent insert of the same id waits), commits.
   * @throws ClientExistsError when the id is taken (before `whileLocked` runs)
   */
  insert(client: NewClient, whileLocked: () => Promise<void> = async () => undefined): Promise<BusClientEntity> {
    return this.db().transaction(async (manager) => {
      try {
        await manager.insert(BusClientEntity, client);
      } catch (error) {
        if (isUniqueViolation(error)) throw new ClientExistsError(`client ${client.clientId} already exists`);
        throw error;
      }
      await whileLocked();
      return manager.findOneByOrFail(BusClientEntity, { clientId: client.clientId });
    });
  }

  /** Inserts the client unless its id exists (concurrent starts of several replicas). */
  async insertIfAbsent(client: NewClient): Promise<void> {
    await this.db().createQueryBuilder().insert().into(BusClientEntity).values(client).orIgnore().execute();
  }

  /**
   * Locks the client, asks `change` what to change (it may do broker work meanwhile), writes it, commits.
   * @returns the updated client, or null when there is none
   */
  update(clientId: string, change: (current: BusClientEntity) => Promise<ClientChanges>): Promise<BusClientEntity | null> {
    return this.db().transaction(async (manager) => {
      const current = await lockClient(manager, clientId);
      if (!current) return null;
      const changes = await change(current);
      if (Object.keys(changes).length > 0) await manager.update(BusClientEntity, { clientId }, changes);
      return manager.findOneByOrFail(BusClientEntity, { clientId });
    });
  }

  /** Locks the client, runs `whileLocked`, deletes it, commits. @returns false when there is none */
  delete(clientId: string, whileLocked: (current: BusClientEntity) => Promise<void>): Promise<boolean> {
    return this.db().transaction(async (manager) => {
      const current = await lockClient(manager, clientId);
      if (!current) return false;
      await whileLocked(current);
      await manager.delete(BusClientEntity, { clientId });
      return true;
    });
  }

  /** New secret hash and a new token version in one statement: the old secret and every old token stop working. */
  async replaceSecret(clientId: string, secretHash: string): Promise<boolean> {
    const result = await this.db()
      .createQueryBuilder()
      .update(BusClientEntity)
      .set({ secretHash, tokenVersion: () => 'token_version + 1' })
      .where('client_id = :clientId', { clientId })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  private db(): DataSource {
    if (!this.dataSource.isInitialized) throw new ServiceUnavailableException('the database is not available yet');
    return this.dataSource;
  }
}

function lockClient(manager: EntityManager, clientId: string): Promise<BusClientEntity | null> {
  return manager.findOne(BusClientEntity, { where: { clientId }, lock: { mode: 'pessimistic_write' } });
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof QueryFailedError && (error.driverError as { code?: string } | undefined)?.code === UNIQUE_VIOLATION;
}
