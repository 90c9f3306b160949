import { Injectable } from '@nestjs/common';
import { DeadLetterDelivery, deadLetterOf } from './dead-letter-of';
import { DeadLetterRepository } from './dead-letter.repository';

export interface RecordedDeadLetter {
  /** null: a redelivery of a dead letter that was already stored */
  id: string | null;
  queue: string;
  reason: string;
  correlationId: string | null;
}

/** Moves one message from a dead-letter queue into the `dead_letter` table, where the API lists it. */
@Injectable()
export class RecordDeadLetter {
  constructor(private readonly deadLetters: DeadLetterRepository) {}

  async execute(delivery: DeadLetterDelivery, deadLetterQueue: string): Promise<RecordedDeadLetter> {
    const deadLetter = deadLetterOf(delivery, deadLetterQueue);
    const id = await this.deadLetters.insert(deadLetter);
    return { id, queue: deadLetter.queue, reason: deadLetter.reason, correlationId: deadLetter.correlationId };
  }
}
