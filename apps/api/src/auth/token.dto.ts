import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Described for Swagger; read by readTokenRequest (form or JSON). */
export class TokenRequestDoc {
  @ApiProperty({ enum: ['client_credentials'] })
  grant_type!: string;

  @ApiPropertyOptional({ description: 'unless sent with HTTP Basic' })
  client_id?: string;

  @ApiPropertyOptional({ description: 'unless sent with HTTP Basic', format: 'password' })
  client_secret?: string;

  @ApiPropertyOptional({ description: 'space-separated subset of the client scopes; all of them when absent', example: 'bus' })
  scope?: string;
}

export class TokenResponseDto {
  @ApiProperty()
  access_token!: string;

  @ApiProperty({ enum: ['Bearer'] })
  token_type!: 'Bearer';

  @ApiProperty({ description: 'seconds until the token expires', example: 3600 })
  expires_in!: number;

  @ApiProperty({ example: 'bus' })
  scope!: string;
}

export class TokenErrorDto {
  @ApiProperty({ enum: ['invalid_request', 'invalid_client', 'unsupported_grant_type', 'invalid_scope', 'too_many_attempts'] })
  error!: string;

  @ApiProperty()
  error_description!: string;
}
