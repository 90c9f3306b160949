import { Body, Controller, Headers, HttpCode, Post, Req, Res, UseFilters } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBasicAuth,
  ApiBody,
  ApiConsumes,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { IssueTokenUseCase } from './issue-token.use-case';
import { TokenErrorDto, TokenRequestDoc, TokenResponseDto } from './token.dto';
import { TokenErrorFilter } from './token-error';
import { readTokenRequest } from './token-request';

@ApiTags('auth')
@Controller()
@UseFilters(TokenErrorFilter)
export class TokenController {
  constructor(private readonly issueToken: IssueTokenUseCase) {}

  @Post('token')
  @HttpCode(200)
  @ApiOperation({
    summary: 'OAuth2 client-credentials grant (RFC 6749 §4.4): a bearer token for the client',
    description: 'The client authenticates with HTTP Basic, or with client_id and client_secret in the body (form or JSON).',
  })
  @ApiBasicAuth()
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiBody({ type: TokenRequestDoc })
  @ApiOkResponse({ type: TokenResponseDto })
  @ApiBadRequestResponse({ type: TokenErrorDto, description: 'invalid_request, unsupported_grant_type or invalid_scope' })
  @ApiUnauthorizedResponse({ type: TokenErrorDto, description: 'invalid_client: unknown client or wrong secret' })
  @ApiTooManyRequestsResponse({ type: TokenErrorDto, description: 'too many failed logins for this client or address; see Retry-After' })
  async token(
    @Body() body: unknown,
    @Headers('authorization') authorization: string | undefined,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TokenResponseDto> {
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    const issued = await this.issueToken.execute(readTokenRequest(body, authorization), req.ip ?? req.socket.remoteAddress ?? 'unknown');
    return { access_token: issued.accessToken, token_type: 'Bearer', expires_in: issued.expiresIn, scope: issued.scope };
  }
}
