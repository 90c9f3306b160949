import { BadRequestException } from '@nestjs/common';
import { validateMessage } from '@purple/contracts';
import type { ClassConstructor } from 'class-transformer';

/** A request body checked against its contract from @purple/contracts; 400 naming each bad field otherwise. */
export function validBody<T extends object>(contract: ClassConstructor<T>, body: unknown): T {
  if (body === undefined) throw new BadRequestException(['the body must be a JSON object (Content-Type: application/json)']);
  const result = validateMessage(contract, body);
  if (!result.ok) throw new BadRequestException(result.errors);
  return result.value;
}
