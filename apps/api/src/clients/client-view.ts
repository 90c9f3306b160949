import { parseScopes } from '@purple/auth';
import { BusClientEntity } from '@purple/persistence';
import { ClientDto } from './clients.dto';

/** A client as the API shows it: never its secret hash or webhook secret. */
export function clientView(client: BusClientEntity): ClientDto {
  const scopes = parseScopes(client.scopes);
  return {
    client_id: client.clientId,
    client_name: client.clientName,
    subscription: scopes.includes('bus') ? client.subscription : null,
    webhook_url: client.webhookUrl,
    webhook_enabled: client.webhookEnabled,
    scopes,
    created_at: client.createdAt.toISOString(),
    updated_at: client.updatedAt.toISOString(),
  };
}

export const isBusClient = (client: Pick<BusClientEntity, 'scopes'>) => parseScopes(client.scopes).includes('bus');
