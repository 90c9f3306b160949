import type { ExecutionVerdict } from '@purple/contracts';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { OperationEntity } from './operation.entity';

/** One red-team execution (a Caldera link) and the blue team's verdict on it. */
@Entity({ name: 'execution' })
@Index('execution_operation_time_idx', ['operationId', 'executedAt'])
export class ExecutionEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'operation_id', type: 'uuid' })
  operationId!: string;

  @ManyToOne(() => OperationEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'operation_id' })
  operation?: OperationEntity;

  /** Caldera's link id, else the AMQP message id, else a hash of the body: redelivery creates nothing new */
  @Column({ name: 'dedupe_key', type: 'text', unique: true })
  dedupeKey!: string;

  @Column({ name: 'caldera_link_id', type: 'text', nullable: true })
  calderaLinkId!: string | null;

  @Column({ name: 'agent_host', type: 'text' })
  agentHost!: string;

  @Column({ name: 'agent_paw', type: 'text' })
  agentPaw!: string;

  @Column({ type: 'text' })
  command!: string;

  @Column({ type: 'jsonb' })
  result!: Record<string, unknown>;

  @Column({ name: 'executed_at', type: 'timestamptz' })
  executedAt!: Date;

  @Column({ type: 'text', nullable: true })
  tactic!: string | null;

  @Column({ name: 'technique_id', type: 'text', nullable: true })
  techniqueId!: string | null;

  @Column({ name: 'technique_name', type: 'text', nullable: true })
  techniqueName!: string | null;

  @Column({ name: 'correlation_id', type: 'text' })
  correlationId!: string;

  @Column({ type: 'text', default: 'pending' })
  verdict!: ExecutionVerdict;

  @Column({ name: 'detection_latency_ms', type: 'bigint', nullable: true })
  detectionLatencyMs!: string | null;

  @Column({ name: 'verdict_at', type: 'timestamptz', nullable: true })
  verdictAt!: Date | null;

  /** the `{{marker}}` placeholder: Caldera's link id, else generated once at ingest */
  @Column({ type: 'text' })
  marker!: string;

  /** a detection came after the verdict was `not_detected` or `error` (see execution_verdict_change) */
  @Column({ name: 'late_detection', type: 'boolean', default: false })
  lateDetection!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
