import { CommonEnv } from '@purple/platform';
import { Type } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { DEFAULT_MAX_MESSAGE_BYTES } from './ingest/parse-instruction';
import { DEFAULT_RETRY_MAX_DELAY_MS } from './delivery';

/** The variables of the checking engine's consumers (caldera-consumer, result-consumer), on top of every app's. */
export class CheckingConsumerEnv extends CommonEnv {
  /** messages larger than this are dead-lettered unread */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(134_217_728)
  MAX_MESSAGE_BYTES = DEFAULT_MAX_MESSAGE_BYTES;

  /** longest pause before the dead-letter consumer hands back a dead letter it could not record (not for an outage) */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(300_000)
  RETRY_MAX_DELAY_MS = DEFAULT_RETRY_MAX_DELAY_MS;

  /**
   * result-consumer: after a task's `not_detected` answer, search once more this many seconds later, for tasks
   * whose detection config does not say (`recheck_after_seconds`); 0 is off. A detection found then is late.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(86_400)
  DETECTION_RECHECK_AFTER_SECONDS = 0;
}
