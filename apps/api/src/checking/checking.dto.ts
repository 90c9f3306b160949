import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsISO8601, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import {
  COMPARISON_CHANGES,
  DETECTION_ACTIONS,
  DETECTION_TYPES,
  EXECUTION_VERDICTS,
  HOST_OPERATING_SYSTEMS,
  INITIAL_DELAY_SOURCES,
  MATCH_QUALITIES,
  SOURCE_OUTCOMES,
  TASK_STATUSES,
} from '@purple/contracts';

export class PageQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 500, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit = 50;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, default: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  offset = 0;
}

export class ExecutionQuery extends PageQuery {
  @ApiPropertyOptional({ description: "Caldera's operation id" })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  operation_id?: string;

  @ApiPropertyOptional({ description: 'agent host' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  host?: string;

  @ApiPropertyOptional({ description: 'agent paw' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  paw?: string;

  @ApiPropertyOptional({ enum: EXECUTION_VERDICTS })
  @IsOptional()
  @IsIn(EXECUTION_VERDICTS)
  verdict?: string;

  @ApiPropertyOptional({ description: 'executed at or after (ISO 8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ description: 'executed before (ISO 8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export class DeadLetterQueryDto extends PageQuery {
  @ApiPropertyOptional({ description: 'a checking-engine queue, e.g. caldera.checking.instructions (or its .dlq)' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  queue?: string;

  @ApiPropertyOptional({ description: 'true: only replayed; false: only waiting' })
  @IsOptional()
  @Type(() => String)
  @IsIn(['true', 'false'])
  replayed?: 'true' | 'false';
}

export class ReplayRequestDto {
  @ApiPropertyOptional({
    description: 'the fixed message (JSON) to process instead of the stored body; omit to replay the body as stored',
    type: 'object',
    additionalProperties: true,
  })
  @IsOptional()
  body?: Record<string, unknown> | unknown[];
}

export class CoverageSummaryDto {
  @ApiProperty() executions!: number;
  @ApiProperty() detected!: number;
  @ApiProperty() not_detected!: number;
  @ApiProperty() errors!: number;
  @ApiProperty({ description: 'pending or being checked' }) pending!: number;
  @ApiProperty() no_detections!: number;
  @ApiProperty({ description: 'executions whose every detection entry was rejected' }) no_usable_detections!: number;
  @ApiProperty({ nullable: true, type: Number, description: 'detected ÷ (detected + not detected)' }) detection_rate!: number | null;
  @ApiProperty({ nullable: true, type: Number }) detection_latency_p50_ms!: number | null;
  @ApiProperty({ nullable: true, type: Number }) detection_latency_p95_ms!: number | null;
  @ApiProperty({ description: 'detected executions whose best match had the marker in the event' }) detected_exact!: number;
  @ApiProperty({ description: 'detected executions whose best match was by host and time window only' }) detected_scoped!: number;
  @ApiProperty({ description: 'detected executions matched more loosely (time window only, or an older worker)' }) detected_heuristic!: number;
  @ApiProperty({ nullable: true, type: Number, description: 'exact-only rate: detected with the marker ÷ (detected + not detected)' })
  detection_rate_exact!: number | null;
  @ApiProperty({ description: 'executions detected after a not_detected (or error) verdict' }) late_detections!: number;
  @ApiProperty({ description: 'executions detected only by a re-check (recheck_after_seconds)' }) recheck_only_detections!: number;
}

export class TechniqueSummaryDto extends CoverageSummaryDto {
  @ApiProperty({ nullable: true, type: String }) technique_id!: string | null;
  @ApiProperty({ nullable: true, type: String }) technique_name!: string | null;
  @ApiProperty({ nullable: true, type: String }) tactic!: string | null;
}

export class OperationDto extends CoverageSummaryDto {
  @ApiProperty({ description: "Caldera's operation id" }) operation_id!: string;
  @ApiProperty({ nullable: true, type: String }) name!: string | null;
  @ApiProperty() first_seen!: Date;
  @ApiProperty({ nullable: true, type: Date }) last_execution_at!: Date | null;
}

export class OperationDetailDto extends OperationDto {
  @ApiProperty({ type: [TechniqueSummaryDto] }) techniques!: TechniqueSummaryDto[];
}

export class OperationPageDto {
  @ApiProperty({ type: [OperationDto] }) items!: OperationDto[];
  @ApiProperty() total!: number;
  @ApiProperty() limit!: number;
  @ApiProperty() offset!: number;
}

export class ExecutionDto {
  @ApiProperty() id!: string;
  @ApiProperty() operation_id!: string;
  @ApiProperty({ nullable: true, type: String }) caldera_link_id!: string | null;
  @ApiProperty() agent_host!: string;
  @ApiProperty() agent_paw!: string;
  @ApiProperty() command!: string;
  @ApiProperty() executed_at!: Date;
  @ApiProperty({ nullable: true, type: String }) tactic!: string | null;
  @ApiProperty({ nullable: true, type: String }) technique_id!: string | null;
  @ApiProperty({ nullable: true, type: String }) technique_name!: string | null;
  @ApiProperty({ enum: EXECUTION_VERDICTS }) verdict!: string;
  @ApiProperty({ nullable: true, type: Number }) detection_latency_ms!: number | null;
  @ApiProperty({ nullable: true, type: Date }) verdict_at!: Date | null;
  @ApiProperty() correlation_id!: string;
  @ApiProperty({ description: "the `{{marker}}` placeholder: Caldera's link id, else generated once" }) marker!: string;
  @ApiProperty({ description: 'a detection came after the verdict was not_detected or error (see history)' }) late_detection!: boolean;
}

export class TaskDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: DETECTION_TYPES, nullable: true, description: 'null only for a rejected entry whose worker pool could not be told' })
  detection_type!: string | null;
  @ApiProperty() platform!: string;
  @ApiProperty({ enum: HOST_OPERATING_SYSTEMS, nullable: true, description: 'the host OS an agent check runs on, when Caldera named it' })
  host_os!: string | null;
  @ApiProperty() connector!: string;
  @ApiProperty() query!: string;
  @ApiProperty({ enum: TASK_STATUSES, description: '`rejected`: the detection entry could not run; see rejection_reason' }) status!: string;
  @ApiProperty() attempts!: number;
  @ApiProperty() max_attempts!: number;
  @ApiProperty({ nullable: true, type: Date }) dispatched_at!: Date | null;
  @ApiProperty({ nullable: true, type: Date }) completed_at!: Date | null;
  @ApiProperty({ nullable: true, type: String }) last_error!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'why the detection entry could not run (status rejected)' })
  rejection_reason!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'a re-check task: the task it searches again for' }) recheck_of!: string | null;
  @ApiProperty({ nullable: true, type: Date, description: 'a re-check is not sent before this' }) not_before!: Date | null;
  @ApiProperty({ nullable: true, type: Number, description: 'the initial delay the latest attempt was sent with' })
  initial_delay_seconds!: number | null;
  @ApiProperty({ enum: INITIAL_DELAY_SOURCES, nullable: true, description: "the ability's own, the source's learned delay, or the default" })
  initial_delay_source!: string | null;
  @ApiProperty({
    nullable: true,
    type: 'object',
    additionalProperties: true,
    description: 'the answer to the latest attempt, with match_quality (exact, scoped, heuristic), action (blocked, alerted) and late',
  })
  result!: Record<string, unknown> | null;
}

export class SourceVerdictDto {
  @ApiProperty({ description: 'the connector: splunk, crowdstrike, sentinel, caldera, local …' }) source!: string;
  @ApiProperty({ enum: SOURCE_OUTCOMES, nullable: true, description: 'null while the source has not answered for good' }) outcome!: string | null;
  @ApiProperty({ enum: DETECTION_ACTIONS, nullable: true, description: 'for detected, when the source says: prevented or only alerted' })
  action!: string | null;
  @ApiProperty({ enum: MATCH_QUALITIES, nullable: true }) quality!: string | null;
  @ApiProperty({ nullable: true, type: Number }) latency_ms!: number | null;
  @ApiProperty({ description: 'its detection came after a not_detected verdict' }) late!: boolean;
  @ApiProperty({ description: 'detected only by a re-check' }) recheck_only!: boolean;
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true } }) evidence!: unknown[];
}

export class ResultHistoryDto {
  @ApiProperty() task_id!: string;
  @ApiProperty() connector!: string;
  @ApiProperty({ nullable: true, type: String }) recheck_of!: string | null;
  @ApiProperty() attempt!: number;
  @ApiProperty() status!: string;
  @ApiProperty({ enum: MATCH_QUALITIES, nullable: true }) match_quality!: string | null;
  @ApiProperty({ enum: DETECTION_ACTIONS, nullable: true }) action!: string | null;
  @ApiProperty() late!: boolean;
  @ApiProperty() events_found!: number;
  @ApiProperty({ nullable: true, type: Date }) matched_event_at!: Date | null;
  @ApiProperty({ description: 'when the worker answered' }) result_at!: Date;
  @ApiProperty({ description: 'when the result consumer stored it' }) received_at!: Date;
  @ApiProperty({ nullable: true, type: Number, description: 'match time minus event time' }) ingestion_delay_ms!: number | null;
}

export class VerdictChangeDto {
  @ApiProperty({ enum: EXECUTION_VERDICTS }) from_verdict!: string;
  @ApiProperty({ enum: EXECUTION_VERDICTS }) to_verdict!: string;
  @ApiProperty({ description: 'a detection after not_detected or error' }) late!: boolean;
  @ApiProperty({ nullable: true, type: Number }) detection_latency_ms!: number | null;
  @ApiProperty() changed_at!: Date;
}

export class ExecutionDetailDto extends ExecutionDto {
  @ApiProperty({ type: [TaskDto] }) tasks!: TaskDto[];
  @ApiProperty({ type: [SourceVerdictDto], description: 'the outcome of each source (SIEM, EDR, host check)' }) sources!: SourceVerdictDto[];
  @ApiProperty({ type: [ResultHistoryDto], description: 'every result, in the order it came' }) results!: ResultHistoryDto[];
  @ApiProperty({ type: [VerdictChangeDto], description: 'every verdict change, oldest first' }) history!: VerdictChangeDto[];
}

export class SourceCountsDto {
  @ApiProperty() source!: string;
  @ApiProperty() detected!: number;
  @ApiProperty({ description: 'of detected: prevented' }) blocked!: number;
  @ApiProperty({ description: 'of detected: only alerted' }) alerted!: number;
  @ApiProperty() not_detected!: number;
  @ApiProperty() error!: number;
  @ApiProperty() unsupported!: number;
  @ApiProperty() pending!: number;
  @ApiProperty({ nullable: true, type: Number }) latency_p50_ms!: number | null;
}

export class TechniqueMatrixDto {
  @ApiProperty({ nullable: true, type: String }) technique_id!: string | null;
  @ApiProperty({ nullable: true, type: String }) technique_name!: string | null;
  @ApiProperty() executions!: number;
  @ApiProperty({ type: [SourceCountsDto] }) sources!: SourceCountsDto[];
  @ApiProperty({ description: 'an execution was detected by one source and not by another' }) disagreement!: boolean;
  @ApiProperty({ type: [String], description: 'sources that saw an execution another source missed' }) seen_by!: string[];
  @ApiProperty({ type: [String], description: 'sources that missed an execution another source saw' }) missed_by!: string[];
}

export class SourceMatrixDto {
  @ApiProperty() operation_id!: string;
  @ApiProperty({ type: [String], description: 'techniques where sources disagree' }) disagreements!: string[];
  @ApiProperty({ type: [TechniqueMatrixDto] }) techniques!: TechniqueMatrixDto[];
}

export class CompareQuery {
  @ApiPropertyOptional({ minimum: 0, default: 60000, description: 'latency counts as worse when it grew by more than this' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  latency_threshold_ms = 60_000;
}

export class ComparedSourceDto {
  @ApiProperty() source!: string;
  @ApiProperty({ enum: SOURCE_OUTCOMES, nullable: true }) a!: string | null;
  @ApiProperty({ enum: SOURCE_OUTCOMES, nullable: true }) b!: string | null;
  @ApiProperty({ enum: COMPARISON_CHANGES }) change!: string;
}

export class ComparedItemDto {
  @ApiProperty({ nullable: true, type: String }) technique_id!: string | null;
  @ApiProperty({ nullable: true, type: String }) technique_name!: string | null;
  @ApiProperty({ nullable: true, type: String }) ability_id!: string | null;
  @ApiProperty() host!: string;
  @ApiProperty({ enum: COMPARISON_CHANGES }) change!: string;
  @ApiProperty({ enum: ['detected', 'missed', 'undecided'], nullable: true }) a!: string | null;
  @ApiProperty({ enum: ['detected', 'missed', 'undecided'], nullable: true }) b!: string | null;
  @ApiProperty({ nullable: true, type: Number }) latency_a_ms!: number | null;
  @ApiProperty({ nullable: true, type: Number }) latency_b_ms!: number | null;
  @ApiProperty({ description: 'latency grew by more than the threshold' }) latency_worse!: boolean;
  @ApiProperty({ type: [ComparedSourceDto] }) sources!: ComparedSourceDto[];
  @ApiProperty({ description: 'newly missed, newly missed by a source, or slower than the threshold allows' }) regression!: boolean;
}

export class ComparisonSummaryDto {
  @ApiProperty() newly_missed!: number;
  @ApiProperty() newly_detected!: number;
  @ApiProperty() still_missed!: number;
  @ApiProperty() still_detected!: number;
  @ApiProperty() latency_worse!: number;
  @ApiProperty() source_regressions!: number;
  @ApiProperty() only_in_a!: number;
  @ApiProperty() only_in_b!: number;
  @ApiProperty() regressions!: number;
}

export class ComparisonDto {
  @ApiProperty({ description: 'the baseline operation' }) a!: string;
  @ApiProperty({ description: 'the operation compared with it' }) b!: string;
  @ApiProperty() latency_threshold_ms!: number;
  @ApiProperty({ type: ComparisonSummaryDto }) summary!: ComparisonSummaryDto;
  @ApiProperty({ type: [ComparedItemDto], description: 'executions matched by technique (else command) and host' }) items!: ComparedItemDto[];
}

export class TimeToDetectQuery {
  @ApiPropertyOptional({ description: "Caldera's operation id; all operations when absent" })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  operation_id?: string;
}

export class LatencyStatsDto {
  @ApiProperty() source!: string;
  @ApiProperty() samples!: number;
  @ApiProperty() p50_ms!: number;
  @ApiProperty() p90_ms!: number;
}

export class TechniqueLatencyStatsDto extends LatencyStatsDto {
  @ApiProperty({ nullable: true, type: String }) technique_id!: string | null;
}

export class TimeToDetectDto {
  @ApiProperty({ nullable: true, type: String }) operation_id!: string | null;
  @ApiProperty({ type: [LatencyStatsDto], description: 'time to detect (event time, else answer time, minus execution time) per source' })
  sources!: LatencyStatsDto[];
  @ApiProperty({ type: [TechniqueLatencyStatsDto], description: 'the same per source and technique' }) techniques!: TechniqueLatencyStatsDto[];
  @ApiProperty({
    type: [LatencyStatsDto],
    description: "each source's ingestion delay (match time minus event time) over its latest 500 detections: the dispatcher's learned initial delay is its p90",
  })
  ingestion_delays!: LatencyStatsDto[];
}

export class ExecutionPageDto {
  @ApiProperty({ type: [ExecutionDto] }) items!: ExecutionDto[];
  @ApiProperty() total!: number;
  @ApiProperty() limit!: number;
  @ApiProperty() offset!: number;
}

export class RedispatchDto {
  @ApiProperty() taskId!: string;
  @ApiProperty() executionId!: string;
  @ApiProperty() previousStatus!: string;
  @ApiProperty() changed!: boolean;
  @ApiProperty() verdict!: string;
}

export class ReplayOutcomeDto {
  @ApiProperty() deadLetterId!: string;
  @ApiProperty() queue!: string;
  @ApiProperty() outcome!: string;
  @ApiProperty() replayedAt!: Date;
  @ApiProperty() executionId!: string;
}

