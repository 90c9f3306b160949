import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayNotEmpty, ArrayUnique, IsArray, IsBoolean, IsIn, IsOptional, IsString, Length, Matches, MaxLength, ValidateIf } from 'class-validator';
import { SCOPES, Scope } from '@purple/auth';
import { CLIENT_ID_PATTERN, TOPIC_MAX_LENGTH, customConstraint, isValidSubscription } from '@purple/contracts';

const IsSubscription = () =>
  customConstraint(
    'isSubscription',
    isValidSubscription,
    `subscription must be a topic pattern: dot-separated words, each non-empty and without spaces, or exactly * (one word) or # (any words), at most ${TOPIC_MAX_LENGTH} bytes`,
  );

export const WEBHOOK_URL_MAX_LENGTH = 2048;
export const CLIENT_NAME_MAX_LENGTH = 200;
/** present in the body, even as null (`ValidateIf` then validates it, so null is refused where it is not allowed) */
const given = (property: string) => ValidateIf((o: Record<string, unknown>) => o[property] !== undefined);

export class CreateClientRequest {
  @ApiProperty({ pattern: CLIENT_ID_PATTERN.source, maxLength: 63, example: 'noc-sfmc', description: 'also the prefix of its queues' })
  @IsString()
  @Matches(CLIENT_ID_PATTERN, { message: 'client_id must be 1-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen' })
  // `soar-…` names the bus's own exchanges and queues, which soar_admin (creating a client's queues) may not touch
  @Matches(/^(?!soar(-|$))/, { message: 'client_id must not be "soar" or start with "soar-" (the bus\'s own objects are named so)' })
  client_id!: string;

  @ApiProperty({ maxLength: CLIENT_NAME_MAX_LENGTH, example: 'NOC SFMC' })
  @IsString()
  @Length(1, CLIENT_NAME_MAX_LENGTH)
  client_name!: string;

  @ApiPropertyOptional({
    description: 'RabbitMQ topic pattern (`*` one word, `#` any words); required with the bus scope',
    example: 'soar.noc.slocum.#',
  })
  @given('subscription')
  @IsSubscription()
  subscription?: string;

  @ApiPropertyOptional({
    description: 'deliver the inbox by POST to this URL (signed per Standard Webhooks); public addresses only unless allowlisted',
    example: 'https://hooks.example.org/soar',
    maxLength: WEBHOOK_URL_MAX_LENGTH,
  })
  @given('webhook_url')
  @IsString()
  @MaxLength(WEBHOOK_URL_MAX_LENGTH)
  webhook_url?: string;

  @ApiPropertyOptional({ enum: SCOPES, isArray: true, default: ['bus'], description: 'what its tokens may do' })
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayUnique()
  @IsIn(SCOPES, { each: true })
  scopes?: Scope[];
}

export class UpdateClientRequest {
  @ApiPropertyOptional({ maxLength: CLIENT_NAME_MAX_LENGTH })
  @given('client_name')
  @IsString()
  @Length(1, CLIENT_NAME_MAX_LENGTH)
  client_name?: string;

  @ApiPropertyOptional({ description: 'new topic pattern: the inbox is rebound at once', example: 'soar.#' })
  @given('subscription')
  @IsSubscription()
  subscription?: string;

  @ApiPropertyOptional({
    nullable: true,
    maxLength: WEBHOOK_URL_MAX_LENGTH,
    description: 'a new URL (a new webhook secret is issued and shown once; the webhook is enabled), or null to stop pushing',
  })
  @ValidateIf((o: UpdateClientRequest) => o.webhook_url !== undefined && o.webhook_url !== null)
  @IsString()
  @MaxLength(WEBHOOK_URL_MAX_LENGTH)
  webhook_url?: string | null;

  @ApiPropertyOptional({ description: 'turn pushing on or off (the router turns it off when the receiver answers 410)' })
  @given('webhook_enabled')
  @IsBoolean()
  webhook_enabled?: boolean;
}

export class ClientDto {
  @ApiProperty({ example: 'noc-sfmc' })
  client_id!: string;

  @ApiProperty({ example: 'NOC SFMC' })
  client_name!: string;

  @ApiProperty({ nullable: true, type: String, description: 'null for a client without the bus scope (no queues)', example: 'soar.noc.slocum.#' })
  subscription!: string | null;

  @ApiProperty({ nullable: true, type: String })
  webhook_url!: string | null;

  @ApiProperty()
  webhook_enabled!: boolean;

  @ApiProperty({ enum: SCOPES, isArray: true })
  scopes!: Scope[];

  @ApiProperty({ format: 'date-time' })
  created_at!: string;

  @ApiProperty({ format: 'date-time' })
  updated_at!: string;
}

export class CreatedClientDto extends ClientDto {
  @ApiProperty({ description: 'shown only now: store it, it cannot be read again (rotate it if lost)' })
  client_secret!: string;

  @ApiPropertyOptional({ description: 'Standard Webhooks signing secret (whsec_…), when a webhook_url was given; shown only now' })
  webhook_secret?: string;
}

export class UpdatedClientDto extends ClientDto {
  @ApiPropertyOptional({ description: 'the new webhook signing secret, when webhook_url changed; shown only now' })
  webhook_secret?: string;
}

export class ClientSecretDto {
  @ApiProperty()
  client_id!: string;

  @ApiProperty({ description: 'the new secret, shown only now; the old one and every token issued with it no longer work' })
  client_secret!: string;
}
