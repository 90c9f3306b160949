import { Logger } from '@nestjs/common';
import { SecretBox } from '@purple/platform';
import { BusClientRepository, RoutedClient } from '../clients/bus-client.repository';
import { DeliveryHandler, QueueConsumerOptions, ConsumerFactory, ConsumerHandle } from '@purple/messaging';
import { PushToWebhook, WebhookTarget } from '../push/push-to-webhook';
import { WebhookSecrets } from '../push/webhook-secrets';
import { DestinationDirectory } from '../routing/destination-directory';
import { ForwardBroadcastMessage } from '../routing/forward-broadcast-message';
import { ForwardOutboxMessage } from '../routing/forward-outbox-message';
import { fakeDelivery, testConfig } from '../../test/doubles';
import { ClientRouter } from './client-router';

Logger.overrideLogger(false);

class FakeConsumer implements ConsumerHandle {
  started = false;
  stopped = false;
  constructor(
    readonly options: QueueConsumerOptions,
    readonly handler: DeliveryHandler,
  ) {}
  start() {
    this.started = true;
  }
  async stop() {
    this.stopped = true;
  }
}

class FakeConsumers extends ConsumerFactory {
  readonly created: FakeConsumer[] = [];
  create(options: QueueConsumerOptions, handler: DeliveryHandler): ConsumerHandle {
    const consumer = new FakeConsumer(options, handler);
    this.created.push(consumer);
    return consumer;
  }
  running(): string[] {
    return this.created.filter((c) => c.started && !c.stopped).map((c) => c.options.queue).sort();
  }
  latest(queue: string): FakeConsumer | undefined {
    return [...this.created].reverse().find((c) => c.options.queue === queue);
  }
}

const config = testConfig();
const box = new SecretBox(config.WEBHOOK_SECRET_KEY);

/** `started`: as after the router's first full sync; false: as before it */
function setup(started = true) {
  const rows = new Map<string, RoutedClient>();
  const clients = {
    findAll: async () => [...rows.values()],
    findById: async (id: string) => rows.get(id),
  } as unknown as BusClientRepository;
  const pushedTo: WebhookTarget[] = [];
  const push = { execute: async (target: () => WebhookTarget) => (pushedTo.push(target()), { action: 'ack' }) } as unknown as PushToWebhook;
  const senders: string[] = [];
  const forward = { execute: async (owner: string) => (senders.push(owner), { action: 'ack' }) };
  const consumers = new FakeConsumers();
  const directory = new DestinationDirectory();
  if (started) directory.replaceAll([]);
  const router = new ClientRouter(
    consumers,
    clients,
    forward as unknown as ForwardOutboxMessage,
    forward as unknown as ForwardBroadcastMessage,
    push,
    new WebhookSecrets(config),
    config,
    directory,
  );
  const put = (client: Partial<RoutedClient> & { clientId: string }) =>
    rows.set(client.clientId, { isBusClient: true, subscription: '#', webhookUrl: null, webhookEnabled: true, webhookSecretCiphertext: null, ...client });
  return { router, rows, put, consumers, pushedTo, senders, directory };
}

describe('ClientRouter', () => {
  it('consumes the outbox and broadcast queue of every bus client, dead-lettering to the client, and nothing for others', async () => {
    const { router, put, consumers } = setup();
    put({ clientId: 'alpha' });
    put({ clientId: 'bravo' });
    put({ clientId: 'admin', isBusClient: false });
    await router.syncAll();
    expect(consumers.running()).toEqual(['alpha-broadcast', 'alpha-outbox', 'bravo-broadcast', 'bravo-outbox']);
    expect(consumers.latest('bravo-outbox')?.options).toMatchObject({ deadLetterExchange: 'soar-dlx', deadLetterRoutingKey: 'bravo' });
    expect(router.routedClients).toEqual(['alpha', 'bravo']);
  });

  it('keeps the destination directory in line with bus_client: bus clients and their subscriptions', async () => {
    const { router, rows, put, directory } = setup();
    put({ clientId: 'alpha', subscription: 'soar.alpha.#' });
    put({ clientId: 'bravo', subscription: 'soar.#' });
    put({ clientId: 'admin', isBusClient: false });
    await router.syncAll();
    expect(directory.subscribersOf('soar.alpha.x')).toEqual(['alpha', 'bravo']);
    expect(directory.everyone()).toEqual(['alpha', 'bravo']);

    put({ clientId: 'alpha', subscription: 'soar.other' });
    await router.sync('alpha');
    expect(directory.subscribersOf('soar.alpha.x')).toEqual(['bravo']);
    rows.delete('bravo');
    await router.sync('bravo');
    expect(directory.everyone()).toEqual(['alpha']);
    put({ clientId: 'alpha', isBusClient: false });
    await router.syncAll();
    expect(directory.everyone()).toEqual([]);
  });

  it('starts no consumer before a full read of bus_client has filled the destination directory', async () => {
    const { router, put, consumers } = setup(false);
    put({ clientId: 'alpha' });
    put({ clientId: 'bravo' });
    await router.sync('alpha');
    expect(consumers.running()).toEqual([]);
    await router.syncAll();
    expect(consumers.running()).toEqual(['alpha-broadcast', 'alpha-outbox', 'bravo-broadcast', 'bravo-outbox']);
  });

  it('hands each queue’s messages to the use case with the queue’s owner as sender', async () => {
    const { router, put, consumers, senders } = setup();
    put({ clientId: 'alpha' });
    await router.sync('alpha');
    await consumers.latest('alpha-outbox')?.handler(fakeDelivery({}).delivery);
    await consumers.latest('alpha-broadcast')?.handler(fakeDelivery({}).delivery);
    expect(senders).toEqual(['alpha', 'alpha']);
  });

  it('is idempotent, and stops a deleted client’s consumers', async () => {
    const { router, rows, put, consumers } = setup();
    put({ clientId: 'alpha' });
    await router.sync('alpha');
    await router.sync('alpha');
    await router.syncAll();
    expect(consumers.created).toHaveLength(2);
    rows.delete('alpha');
    await router.sync('alpha');
    expect(consumers.running()).toEqual([]);
    expect(router.routedClients).toEqual([]);
  });

  it('stops routing for a client that is no longer a bus client, found by a full sync too', async () => {
    const { router, put, consumers } = setup();
    put({ clientId: 'alpha' });
    await router.syncAll();
    put({ clientId: 'alpha', isBusClient: false });
    await router.syncAll();
    expect(consumers.running()).toEqual([]);
  });

  it('pushes the inbox while the client has an enabled webhook with a secret, following changes in place', async () => {
    const { router, put, consumers, pushedTo } = setup();
    const sealed = box.seal('whsec_c2VjcmV0', 'alpha');
    put({ clientId: 'alpha', webhookUrl: 'https://a.example.com/1', webhookSecretCiphertext: sealed });
    await router.sync('alpha');
    expect(consumers.running()).toContain('alpha-inbox');
    expect(router.isPushing('alpha')).toBe(true);
    const inbox = consumers.latest('alpha-inbox');

    put({ clientId: 'alpha', webhookUrl: 'https://a.example.com/2', webhookSecretCiphertext: sealed });
    await router.sync('alpha');
    expect(consumers.latest('alpha-inbox')).toBe(inbox);
    await inbox?.handler(fakeDelivery({}).delivery);
    expect(pushedTo).toEqual([{ clientId: 'alpha', url: 'https://a.example.com/2', secret: 'whsec_c2VjcmV0' }]);

    put({ clientId: 'alpha', webhookUrl: 'https://a.example.com/2', webhookSecretCiphertext: sealed, webhookEnabled: false });
    await router.sync('alpha');
    expect(inbox?.stopped).toBe(true);
    expect(router.isPushing('alpha')).toBe(false);
    expect(consumers.running()).toEqual(['alpha-broadcast', 'alpha-outbox']);
  });

  it('starts a new push consumer when the previous one stopped itself (410) and the webhook is enabled again', async () => {
    const { router, put, consumers } = setup();
    put({ clientId: 'alpha', webhookUrl: 'https://a.example.com/', webhookSecretCiphertext: box.seal('whsec_c2VjcmV0', 'alpha') });
    await router.sync('alpha');
    const first = consumers.latest('alpha-inbox') as FakeConsumer;
    first.stopped = true;
    await router.sync('alpha');
    expect(consumers.latest('alpha-inbox')).not.toBe(first);
    expect(router.isPushing('alpha')).toBe(true);
  });

  it('does not push without a secret it can open', async () => {
    const { router, put, consumers } = setup();
    put({ clientId: 'alpha', webhookUrl: 'https://a.example.com/' });
    put({ clientId: 'bravo', webhookUrl: 'https://b.example.com/', webhookSecretCiphertext: new SecretBox('another-key-entirely').seal('whsec_eA==', 'bravo') });
    await router.syncAll();
    expect(consumers.running()).toEqual(['alpha-broadcast', 'alpha-outbox', 'bravo-broadcast', 'bravo-outbox']);
  });

  it('stops everything on shutdown and starts nothing afterwards', async () => {
    const { router, put, consumers } = setup();
    put({ clientId: 'alpha', webhookUrl: 'https://a.example.com/', webhookSecretCiphertext: box.seal('whsec_c2VjcmV0', 'alpha') });
    await router.syncAll();
    await router.stopAll();
    put({ clientId: 'bravo' });
    await router.syncAll();
    expect(consumers.running()).toEqual([]);
    expect(consumers.created.every((c) => c.stopped)).toBe(true);
  });
});
