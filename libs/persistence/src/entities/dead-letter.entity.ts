import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A checking-engine message that could not be processed, with why; an operator lists, fixes and replays it. */
@Entity({ name: 'dead_letter' })
export class DeadLetterEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  /** the queue the message was dead-lettered from */
  @Column({ type: 'text' })
  queue!: string;

  @Column({ type: 'text' })
  reason!: string;

  @Column({ name: 'message_id', type: 'text', nullable: true })
  messageId!: string | null;

  @Column({ name: 'correlation_id', type: 'text', nullable: true })
  correlationId!: string | null;

  @Column({ name: 'routing_key', type: 'text', nullable: true })
  routingKey!: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  headers!: Record<string, unknown>;

  @Column({ type: 'bytea' })
  body!: Buffer;

  @Column({ name: 'dead_lettered_at', type: 'timestamptz', default: () => 'now()' })
  deadLetteredAt!: Date;

  @Column({ name: 'replayed_at', type: 'timestamptz', nullable: true })
  replayedAt!: Date | null;

  @Column({ name: 'replay_outcome', type: 'text', nullable: true })
  replayOutcome!: string | null;

  /** the client that replayed it */
  @Column({ name: 'replayed_by', type: 'text', nullable: true })
  replayedBy!: string | null;

  /** the client that replayed it with a body of its own */
  @Column({ name: 'body_edited_by', type: 'text', nullable: true })
  bodyEditedBy!: string | null;
}
