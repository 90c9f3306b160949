import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsISO8601, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { DETECTION_TYPES, EXECUTION_VERDICTS, HOST_OPERATING_SYSTEMS, TASK_STATUSES } from '@purple/contracts';

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
  @ApiProperty({ nullable: true, type: 'object', additionalProperties: true, description: 'the answer to the latest attempt' })
  result!: Record<string, unknown> | null;
}

export class ExecutionDetailDto extends ExecutionDto {
  @ApiProperty({ type: [TaskDto] }) tasks!: TaskDto[];
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

