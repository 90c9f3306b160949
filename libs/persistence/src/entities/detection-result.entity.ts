import type { DetectionAction, MatchQuality, ResponseStatus } from '@purple/contracts';
import { Column, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, CreateDateColumn } from 'typeorm';
import { DetectionTaskEntity } from './detection-task.entity';

/** A worker's answer to one attempt of a task; stored once however often it is delivered. */
@Entity({ name: 'detection_result' })
@Unique('detection_result_task_attempt_uq', ['taskId', 'attempt'])
export class DetectionResultEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'task_id', type: 'uuid' })
  taskId!: string;

  @ManyToOne(() => DetectionTaskEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'task_id' })
  task?: DetectionTaskEntity;

  @Column({ type: 'int' })
  attempt!: number;

  @Column({ name: 'detection_id', type: 'text' })
  detectionId!: string;

  @Column({ type: 'text' })
  status!: ResponseStatus;

  @Column({ type: 'boolean' })
  detected!: boolean;

  @Column({ type: 'double precision', nullable: true })
  confidence!: number | null;

  @Column({ name: 'events_found', type: 'int', default: 0 })
  eventsFound!: number;

  /** alert or event ids, links and event times */
  @Column({ type: 'jsonb', default: () => "'[]'::jsonb" })
  evidence!: unknown[];

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @Column({ name: 'matched_event_at', type: 'timestamptz', nullable: true })
  matchedEventAt!: Date | null;

  @Column({ name: 'result_at', type: 'timestamptz' })
  resultAt!: Date;

  @Column({ name: 'worker_id', type: 'text', nullable: true })
  workerId!: string | null;

  /** the response message as received */
  @Column({ type: 'jsonb' })
  response!: Record<string, unknown>;

  /** exact (marker found), scoped (host and window), heuristic; null when not detected */
  @Column({ name: 'match_quality', type: 'text', nullable: true })
  matchQuality!: MatchQuality | null;

  /** blocked or alerted, when the source says */
  @Column({ type: 'text', nullable: true })
  action!: DetectionAction | null;

  /** a detection that came after the execution's verdict was not_detected or error */
  @Column({ type: 'boolean', default: false })
  late!: boolean;

  /** the source's ingestion delay seen here: when the match was found minus the event's time */
  @Column({ name: 'ingestion_delay_ms', type: 'bigint', nullable: true })
  ingestionDelayMs!: string | null;

  @CreateDateColumn({ name: 'received_at', type: 'timestamptz' })
  receivedAt!: Date;
}
