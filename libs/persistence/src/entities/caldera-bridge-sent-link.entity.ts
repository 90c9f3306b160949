import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A Caldera link the caldera-bridge has dealt with: published (the broker confirmed it) or skipped (it can never
 * become a valid message, `skipped_reason` says why). A link recorded here is never published again.
 */
@Entity({ name: 'caldera_bridge_sent_link' })
export class CalderaBridgeSentLinkEntity {
  /** Caldera's link id */
  @PrimaryColumn({ name: 'link_id', type: 'text' })
  linkId!: string;

  /** Caldera's operation id */
  @Column({ name: 'operation_id', type: 'text' })
  operationId!: string;

  @Column({ name: 'sent_at', type: 'timestamptz', default: () => 'now()' })
  sentAt!: Date;

  /** null when published; the validation errors when the link was skipped */
  @Column({ name: 'skipped_reason', type: 'text', nullable: true })
  skippedReason!: string | null;
}
