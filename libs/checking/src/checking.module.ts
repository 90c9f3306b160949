import { Module } from '@nestjs/common';
import { DeadLetterRepository } from './dead-letters/dead-letter.repository';
import { GetDeadLetter } from './dead-letters/get-dead-letter.use-case';
import { ListDeadLetters } from './dead-letters/list-dead-letters.use-case';
import { RecordDeadLetter } from './dead-letters/record-dead-letter.use-case';
import { ReplayDeadLetter } from './dead-letters/replay-dead-letter.use-case';
import { ExecutionRepository } from './executions/execution.repository';
import { IngestExecution } from './ingest/ingest-execution.use-case';
import { RecordDetectionResult } from './results/record-detection-result.use-case';
import { ResultRepository } from './results/result.repository';
import { RedispatchTask } from './tasks/redispatch-task.use-case';
import { TaskRepository } from './tasks/task.repository';
import { CompareOperations } from './purple/compare-operations.use-case';
import { GetExecutionOutcomes } from './purple/get-execution-outcomes.use-case';
import { GetSourceMatrix } from './purple/get-source-matrix.use-case';
import { GetTimeToDetect } from './purple/get-time-to-detect.use-case';
import { PurpleReadRepository } from './purple/purple-read.repository';

const PURPLE_QUERIES = [GetSourceMatrix, GetExecutionOutcomes, CompareOperations, GetTimeToDetect];
const USE_CASES = [IngestExecution, RecordDetectionResult, RedispatchTask, RecordDeadLetter, ListDeadLetters, GetDeadLetter, ReplayDeadLetter, ...PURPLE_QUERIES];

/**
 * The checking engine's use cases and their repositories. Needs PostgreSQL: import it in an app that also
 * imports PersistenceModule.forRoot().
 */
const REPOSITORIES = [ExecutionRepository, ResultRepository, TaskRepository, DeadLetterRepository, PurpleReadRepository];

@Module({
  providers: [...REPOSITORIES, ...USE_CASES],
  // the repositories too: an app's own use cases (the api's read queries) reach the checking tables only through them
  exports: [...REPOSITORIES, ...USE_CASES],
})
export class CheckingModule {}
