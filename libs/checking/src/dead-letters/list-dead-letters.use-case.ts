import { Injectable } from '@nestjs/common';
import { DeadLetterRepository, DeadLetterSummary } from './dead-letter.repository';

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
  constructor(private readonly deadLetters: DeadLetterRepository) {}

  async execute(query: DeadLetterQuery = {}): Promise<DeadLetterPage> {
    const limit = Math.min(Math.max(wholeNumber(query.limit, DEFAULT_PAGE_SIZE), 1), MAX_PAGE_SIZE);
    const offset = Math.max(wholeNumber(query.offset, 0), 0);
    const queue = query.queue?.replace(/\.dlq$/, '');
    const { items, total } = await this.deadLetters.list({ queue, replayed: query.replayed, limit, offset });
    return { items, total, limit, offset };
  }
}

const wholeNumber = (value: number | undefined, fallback: number) => (Number.isFinite(value) ? Math.trunc(value as number) : fallback);
