import { ServiceUnavailableException } from '@nestjs/common';
import { Gate } from '@purple/platform';
import type { DatabaseConnector } from '@purple/persistence';
import type { DeliveredEnvelope } from '../broker/inbox-envelope';
import { DeliveredMessageRepository } from './delivered-message.repository';
import { ReceiverDedupe } from './receiver-dedupe';

describe('ReceiverDedupe while PostgreSQL fails', () => {
  it("answers 503 without the database's own message (hosts, ports, users are not the caller's business)", async () => {
    const failing = {
      findDelivered: async () => {
        throw new Error('connect ECONNREFUSED 10.1.2.3:5432 password authentication failed for user "purple_api"');
      },
      deleteExpired: async () => 0,
    } as unknown as DeliveredMessageRepository;
    const dedupe = new ReceiverDedupe(failing, { gate: new Gate() } as unknown as DatabaseConnector);
    const envelope = { message_id: 'm-1' } as DeliveredEnvelope;
    const error = await dedupe.unseen('noc-c2', [envelope]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceUnavailableException);
    expect(JSON.stringify((error as ServiceUnavailableException).getResponse())).not.toMatch(/10\.1\.2\.3|5432|purple_api|ECONNREFUSED/);
  });
});
