import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A registered client of the communications backbone. */
@Entity({ name: 'bus_client' })
export class BusClientEntity {
  /** lowercase slug; also the prefix of its queues */
  @PrimaryColumn({ name: 'client_id', type: 'text' })
  clientId!: string;

  @Column({ name: 'client_name', type: 'text' })
  clientName!: string;

  /** a RabbitMQ topic pattern with `*` and `#` */
  @Column({ type: 'text' })
  subscription!: string;

  @Column({ name: 'webhook_url', type: 'text', nullable: true })
  webhookUrl!: string | null;

  @Column({ name: 'webhook_enabled', type: 'boolean', default: true })
  webhookEnabled!: boolean;

  /** the Standard Webhooks signing secret, encrypted with WEBHOOK_SECRET_KEY (see SecretBox) */
  @Column({ name: 'webhook_secret_ciphertext', type: 'text', nullable: true })
  webhookSecretCiphertext!: string | null;

  /** scrypt hash of the client secret; the secret itself is shown once and never stored */
  @Column({ name: 'secret_hash', type: 'text' })
  secretHash!: string;

  /** `admin`, `bus`, `checking:read`, space-separated */
  @Column({ type: 'text', default: 'bus' })
  scopes!: string;

  /** bumped on rotation and deletion: tokens carry it, so old ones stop working at once */
  @Column({ name: 'token_version', type: 'int', default: 1 })
  tokenVersion!: number;

  /** random at each creation: tokens carry it, so re-creating a deleted id does not revive its old tokens */
  @Column({ type: 'uuid', default: () => 'gen_random_uuid()' })
  incarnation!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
