import { Module } from '@nestjs/common';
import { DeadLetterStore } from './dead-letters/dead-letter-store';
import { GetDeadLetter, ListDeadLetters, RecordDeadLetter } from './dead-letters/dead-letter-use-cases';
import { ReplayDeadLetter } from './dead-letters/replay-dead-letter';
import { ExecutionStore } from './ingest/execution-store';
import { IngestExecution } from './ingest/ingest-execution';
import { RecordDetectionResult } from './results/record-detection-result';
import { ResultStore } from './results/result-store';
import { RedispatchTask, TaskStore } from './tasks/redispatch-task';
import { PurpleReadRepository } from './purple/purple-read.repository';
import { PURPLE_QUERIES } from './purple/purple-views';

const USE_CASES = [IngestExecution, RecordDetectionResult, RedispatchTask, RecordDeadLetter, ListDeadLetters, GetDeadLetter, ReplayDeadLetter, ...PURPLE_QUERIES];

/**
 * The checking engine's use cases and their repositories. Needs PostgreSQL: import it in an app that also
 * imports PersistenceModule.forRoot().
 */
@Module({
  providers: [ExecutionStore, ResultStore, TaskStore, DeadLetterStore, PurpleReadRepository, ...USE_CASES],
  exports: USE_CASES,
})
export class CheckingModule {}
