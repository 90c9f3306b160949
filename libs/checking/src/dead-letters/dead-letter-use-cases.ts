import { Injectable } from '@nestjs/common';
import { CHECKING_QUEUES } from '@purple/topology';
import { UUID_PATTERN } from '../database';
import { DeadLetterNotFoundError } from '../errors';
import { DeadLetterDelivery, deadLetterOf } from './dead-letter-of';
import { DeadLetter, DeadLetterStore, DeadLetterSummary } from './dead-letter-store';

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
  constructor(private readonly deadLetters: DeadLetterStore) {}

  async execute(delivery: DeadLetterDelivery, deadLetterQueue: string): Promise<RecordedDeadLetter> {
    const deadLetter = deadLetterOf(delivery, deadLetterQueue);
    const id = await this.deadLetters.insert(deadLetter);
    return { id, queue: deadLetter.queue, reason: deadLetter.reason, correlationId: deadLetter.correlationId };
  }
}

export interface DeadLetterQuery {
  /** a working queue (`caldera.checking.instructions`) or its dead-letter queue (`….dlq`) */
  queue?: string;
  replayed?: boolean;
  /** 1 to 500; default 50 */
  limit?: number;
  offset?: number;
}

export interface DeadLetterPage {
  items: DeadLetterSummary[];
  total: number;
  limit: number;
  offset: number;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

/** Dead letters, newest first, optionally of one queue, a page at a time. */
@Injectable()
export class ListDeadLetters {
  constructor(private readonly deadLetters: DeadLetterStore) {}

  async execute(query: DeadLetterQuery = {}): Promise<DeadLetterPage> {
    const limit = Math.min(Math.max(wholeNumber(query.limit, DEFAULT_PAGE_SIZE), 1), MAX_PAGE_SIZE);
    const offset = Math.max(wholeNumber(query.offset, 0), 0);
    const queue = query.queue?.replace(/\.dlq$/, '');
    const { items, total } = await this.deadLetters.list({ queue, replayed: query.replayed, limit, offset });
    return { items, total, limit, offset };
  }
}

const wholeNumber = (value: number | undefined, fallback: number) => (Number.isFinite(value) ? Math.trunc(value as number) : fallback);

/** One dead letter with its whole body. */
@Injectable()
export class GetDeadLetter {
  constructor(private readonly deadLetters: DeadLetterStore) {}

  async execute(id: string): Promise<DeadLetter> {
    const deadLetter = UUID_PATTERN.test(id) ? await this.deadLetters.find(id) : null;
    if (!deadLetter) throw new DeadLetterNotFoundError(id);
    return deadLetter;
  }
}

/** The queues whose dead letters can be replayed, by what replaying means for them. */
export const REPLAYABLE_QUEUES = {
  instructions: [CHECKING_QUEUES.instructions],
  responses: [CHECKING_QUEUES.apiResponses, CHECKING_QUEUES.agentResponses],
  tasks: [CHECKING_QUEUES.apiTasks, CHECKING_QUEUES.agentTasks],
} as const;
