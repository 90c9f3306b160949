import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { generateClientSecret, hashClientSecret } from '@purple/auth';
import { ApiEnv } from '../config/api-env';
import { ClientRepository } from './client.repository';

/** `POST /clients/{id}/secret`: a new secret, shown once; the old secret and every token issued before stop working. */
@Injectable()
export class RotateClientSecretUseCase {
  constructor(
    private readonly clients: ClientRepository,
    private readonly env: ApiEnv,
  ) {}

  async execute(clientId: string): Promise<string> {
    if (clientId === this.env.ADMIN_CLIENT_ID) {
      throw new ConflictException(`the secret of ${clientId} comes from ADMIN_CLIENT_SECRET: change it there and restart the api`);
    }
    const secret = generateClientSecret();
    if (!(await this.clients.replaceSecret(clientId, await hashClientSecret(secret)))) throw new NotFoundException(`no client ${clientId}`);
    return secret;
  }
}
