import { CHECKING_EXCHANGE, CHECKING_VHOST, ROUTING_KEYS } from '@purple/topology';
import * as amqp from 'amqplib';
import { executionResult } from '../../bench/messages';
import { BusLoad, CalderaLoad } from '../load';
import { FaultCounts, baseline, settle } from '../report';
import { FaultSystem } from '../system';
import { out, sleep } from '../suite';

/**
 * Poison and duplicates mixed into good traffic. On the checking side, malformed, oversized and schema-less
 * messages are published as Caldera would never publish them, and good results are delivered twice (same message
 * id; and same link under a second message id). Each bad one must be dead-lettered exactly once, with its reason;
 * each good one must take effect exactly once. On the bus, hostile bodies get a clear 4xx (never a 5xx), and a
 * message sent twice with the same Idempotency-Key reaches the receiver once.
 */
const BAD: Array<{ id: string; body: Buffer }> = [
  { id: 'poison-not-json', body: Buffer.from('{"operation": {"id": "x"}, this is not JSON') },
  { id: 'poison-oversized', body: Buffer.from(JSON.stringify({ padding: 'x'.repeat(100_000) })) },
  { id: 'poison-no-schema', body: Buffer.from(JSON.stringify({ hello: 'world' })) },
  { id: 'poison-array', body: Buffer.from('[1,2,3]') },
];
const GOOD_DUPLICATED = 10;

export async function poisonAndDuplicates(system: FaultSystem): Promise<{ counts: FaultCounts; checks: Record<string, { actual: unknown; expected: unknown }> }> {
  const before = await baseline(system);
  const bus = (await BusLoad.create(system, 'poison', 50)).start();
  const caldera = new CalderaLoad(system, 'faults-poison', 200, out).start();
  try {
    // the bad ones and the duplicates, on a connection of the suite's own, between the load's messages
    const model = await amqp.connect(system.namespace.amqpUrl('caldera_publisher', CHECKING_VHOST));
    model.on('error', (error: Error) => out(`poison publisher connection: ${error.message}`));
    const channel = await model.createConfirmChannel();
    const publish = async (body: Buffer, messageId: string) => {
      channel.publish(CHECKING_EXCHANGE, ROUTING_KEYS.executionResult, body, { persistent: true, contentType: 'application/json', messageId, correlationId: messageId });
      await channel.waitForConfirms();
    };
    const duplicatedLinks: string[] = [];
    for (let i = 0; i < GOOD_DUPLICATED; i++) {
      const linkId = `faults-dup-${i}`;
      const body = executionResult('faults-dup', linkId, 0);
      duplicatedLinks.push(linkId);
      await publish(body, linkId);
      await publish(body, linkId); // redelivered as is
      await publish(body, `${linkId}-again`); // the same result again under another message id
      const bad = BAD[i % BAD.length];
      if (i < BAD.length) await publish(bad.body, bad.id);
      await sleep(100);
    }
    await model.close();

    // hostile bus requests from a registered client: a clear 4xx, never a 5xx
    const hostile = {
      'not JSON': await bus.postAsSender('/send', '{"topic": "poison.load", "message": '),
      'no message': await bus.postAsSender('/send', JSON.stringify({ topic: 'poison.load' })),
      'no topic': await bus.postAsSender('/send', JSON.stringify({ message: { a: 1 } })),
      'topic with wildcards': await bus.postAsSender('/send', JSON.stringify({ topic: 'poison.#', message: { a: 1 } })),
      oversized: await bus.postAsSender('/send', JSON.stringify({ topic: 'poison.load', message: { padding: 'x'.repeat(400_000) } })),
    };
    out(`hostile POST /send answers: ${JSON.stringify(hostile)}`);

    // the same bus message twice under one Idempotency-Key: one message_id, one delivery
    const idempotent = await bus.sendTwiceWithIdempotencyKey(5);

    const counts = await settle(system, 'poison and duplicates', before, bus, caldera, []);
    const stored = await system.query<{ caldera_link_id: string; n: number }>(
      `SELECT caldera_link_id, count(*)::int AS n FROM execution WHERE caldera_link_id = ANY($1::text[]) GROUP BY caldera_link_id`,
      [duplicatedLinks],
    );
    const deadLetters = await system.query<{ message_id: string; n: number; reasons: string[] }>(
      `SELECT message_id, count(*)::int AS n, array_agg(reason) AS reasons FROM dead_letter WHERE dead_lettered_at >= $1 GROUP BY message_id`,
      [before.at],
    );
    out(`dead letters: ${JSON.stringify(deadLetters)}`);
    out(`idempotent sends: ${JSON.stringify(idempotent)}`);
    const poisonIds = BAD.map((b) => b.id);

    return {
      // the poison is expected in the instructions' dead letters (checked one by one below); anything else is not
      counts: { ...counts, deadLettered: counts.deadLettered.filter((d) => !d.queue.includes('instructions') || d.queue.includes('still queued')) },
      checks: {
        badMessagesDeadLetteredOnceWithAReason: {
          actual: Object.fromEntries(poisonIds.map((id) => {
            const row = deadLetters.find((d) => d.message_id === id);
            return [id, row ? { times: row.n, hasReason: row.reasons.every((r) => r.trim().length > 0) } : 'not dead-lettered'];
          })),
          expected: Object.fromEntries(poisonIds.map((id) => [id, { times: 1, hasReason: true }])),
        },
        goodMessagesDeadLettered: { actual: deadLetters.filter((d) => !poisonIds.includes(d.message_id)).map((d) => `${d.message_id}: ${d.reasons[0]}`), expected: [] },
        duplicatedResultsStoredOnce: {
          actual: Object.fromEntries(duplicatedLinks.map((id) => [id, stored.find((r) => r.caldera_link_id === id)?.n ?? 0])),
          expected: Object.fromEntries(duplicatedLinks.map((id) => [id, 1])),
        },
        hostileSendAnswers: {
          actual: Object.fromEntries(Object.entries(hostile).map(([k, status]) => [k, status >= 400 && status < 500 ? '4xx' : status])),
          expected: Object.fromEntries(Object.keys(hostile).map((k) => [k, '4xx'])),
        },
        idempotentRetryAnswersTheSameMessageId: { actual: idempotent.sameMessageId, expected: idempotent.sent },
        idempotentRetryDeliveredOnce: { actual: idempotent.numbers.filter((n) => bus.received.get(n) === 1).length, expected: idempotent.sent },
      },
    };
  } finally {
    // a suite that failed half-way stops its load before the next one starts (settle() has stopped it otherwise)
    await Promise.all([bus.abort(), caldera.abort()]);
  }
}

