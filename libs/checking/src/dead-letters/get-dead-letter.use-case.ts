import { Injectable } from '@nestjs/common';
import { UUID_PATTERN } from '../database';
import { DeadLetterNotFoundError } from '../errors';
import { DeadLetter, DeadLetterRepository } from './dead-letter.repository';

/** One dead letter with its whole body. */
@Injectable()
export class GetDeadLetter {
  constructor(private readonly deadLetters: DeadLetterRepository) {}

  async execute(id: string): Promise<DeadLetter> {
    const deadLetter = UUID_PATTERN.test(id) ? await this.deadLetters.find(id) : null;
    if (!deadLetter) throw new DeadLetterNotFoundError(id);
    return deadLetter;
  }
}
