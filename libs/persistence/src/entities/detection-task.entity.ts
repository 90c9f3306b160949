import type { DetectionType, HostOs, InitialDelaySource, TaskPriority, TaskStatus } from '@purple/contracts';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { ExecutionEntity } from './execution.entity';

/** One detection to check for an execution: a SIEM/EDR query (api) or a host command (agent). */
@Entity({ name: 'detection_task' })
@Index('detection_task_status_idx', ['status', 'deadlineAt'])
export class DetectionTaskEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'execution_id', type: 'uuid' })
  executionId!: string;

  @ManyToOne(() => ExecutionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'execution_id' })
  execution?: ExecutionEntity;

  /** `api` or `agent`: which worker pool (null only for a rejected entry whose pool could not be told) */
  @Column({ name: 'detection_type', type: 'text', nullable: true })
  detectionType!: DetectionType | null;

  /** siem, edr, windows, linux … */
  @Column({ type: 'text' })
  platform!: string;

  /** splunk, crowdstrike, powershell, bash …: what the worker runs it with */
  @Column({ type: 'text' })
  connector!: string;

  @Column({ type: 'text' })
  query!: string;

  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  config!: Record<string, unknown>;

  @Column({ type: 'text', default: 'medium' })
  priority!: TaskPriority;

  @Column({ name: 'timeout_seconds', type: 'int', default: 30 })
  timeoutSeconds!: number;

  @Column({ type: 'text', default: 'pending' })
  status!: TaskStatus;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ name: 'max_attempts', type: 'int', default: 3 })
  maxAttempts!: number;

  @Column({ name: 'deadline_at', type: 'timestamptz', nullable: true })
  deadlineAt!: Date | null;

  @Column({ name: 'dispatched_at', type: 'timestamptz', nullable: true })
  dispatchedAt!: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt!: Date | null;

  /** windows, linux or darwin: the host OS an agent check runs on, when the producer said it */
  @Column({ name: 'host_os', type: 'text', nullable: true })
  hostOs!: HostOs | null;

  /** why the detection entry could not run (status `rejected` only) */
  @Column({ name: 'rejection_reason', type: 'text', nullable: true })
  rejectionReason!: string | null;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  /** a re-check: one more search of the task it names, sent at `not_before` */
  @Column({ name: 'recheck_of', type: 'uuid', nullable: true })
  recheckOf!: string | null;

  @Column({ name: 'not_before', type: 'timestamptz', nullable: true })
  notBefore!: Date | null;

  /** the initial delay the latest attempt was sent with, and where it came from */
  @Column({ name: 'initial_delay_seconds', type: 'int', nullable: true })
  initialDelaySeconds!: number | null;

  @Column({ name: 'initial_delay_source', type: 'text', nullable: true })
  initialDelaySource!: InitialDelaySource | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
