import { ApiProperty, ApiPropertyOptional, ApiPropertyOptions } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { ANY_JSON } from '../messages/messages.dto';

export const MAX_DEAD_LETTERS_LISTED = 200;
export const MAX_DEAD_LETTERS_REPLAYED = 1000;

export class ListDeadLettersQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_DEAD_LETTERS_LISTED, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_DEAD_LETTERS_LISTED)
  max_messages = 50;
}

export class ReplayDeadLettersQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_DEAD_LETTERS_REPLAYED, default: MAX_DEAD_LETTERS_REPLAYED })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_DEAD_LETTERS_REPLAYED)
  max_messages: number = MAX_DEAD_LETTERS_REPLAYED;
}

export class DeadLetterDto {
  @ApiProperty({ nullable: true, type: String })
  message_id!: string | null;

  @ApiProperty({ nullable: true, type: String, description: 'why it was dead-lettered (the x-rejection-reason header, else the broker’s reason)' })
  reason!: string | null;

  @ApiProperty({ nullable: true, type: String, description: 'the queue it left' })
  queue!: string | null;

  @ApiProperty({ nullable: true, type: String, format: 'date-time' })
  dead_lettered_at!: string | null;

  @ApiProperty({ description: 'how many times it has been dead-lettered' })
  count!: number;

  @ApiProperty({ ...ANY_JSON, description: 'the message (the JSON envelope, or the body as text when it is not JSON)' } as ApiPropertyOptions)
  body!: unknown;
}

export class ReplayResultDto {
  @ApiProperty({ description: 'messages moved back into the inbox' })
  replayed!: number;
}
