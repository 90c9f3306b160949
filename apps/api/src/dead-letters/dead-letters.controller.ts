import { Controller, Get, HttpCode, Param, Post, Query, UseGuards, UsePipes } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { AuthenticatedClient, BearerAuthGuard, ClientPrincipal, RequireScopes } from '@purple/auth';
import { ClientIdPipe } from '../http/client-id.pipe';
import { requestValidation } from '../http/validation';
import { DeadLetterDto, ListDeadLettersQuery, ReplayDeadLettersQuery, ReplayResultDto } from './dead-letters.dto';
import { ListDeadLettersUseCase } from './list-dead-letters.use-case';
import { ReplayDeadLettersUseCase } from './replay-dead-letters.use-case';

@ApiTags('clients')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'no token, or an invalid, expired or revoked one' })
@ApiForbiddenResponse({ description: 'neither the admin nor the client itself' })
@ApiNotFoundResponse({ description: 'no such bus client' })
@ApiServiceUnavailableResponse({ description: 'the broker is unreachable' })
@Controller('clients/:id/dead-letters')
@UseGuards(BearerAuthGuard)
// a client's own bus dead letters are bus business: a token narrowed to checking:read does not reach them
@RequireScopes('admin', 'bus')
@UsePipes(requestValidation())
export class DeadLettersController {
  constructor(
    private readonly listDeadLetters: ListDeadLettersUseCase,
    private readonly replayDeadLetters: ReplayDeadLettersUseCase,
  ) {}

  @Get()
  @ApiOperation({ summary: "List a client's dead letters, e.g. webhook pushes that failed for good (the admin or the client)" })
  @ApiOkResponse({ type: DeadLetterDto, isArray: true })
  list(
    @AuthenticatedClient() caller: ClientPrincipal,
    @Param('id', ClientIdPipe) id: string,
    @Query() query: ListDeadLettersQuery,
  ): Promise<DeadLetterDto[]> {
    return this.listDeadLetters.execute(caller, id, query.max_messages);
  }

  @Post('replay')
  @HttpCode(200)
  @ApiOperation({ summary: "Move a client's dead letters back into its inbox (the admin or the client)" })
  @ApiOkResponse({ type: ReplayResultDto })
  async replay(
    @AuthenticatedClient() caller: ClientPrincipal,
    @Param('id', ClientIdPipe) id: string,
    @Query() query: ReplayDeadLettersQuery,
  ): Promise<ReplayResultDto> {
    return { replayed: await this.replayDeadLetters.execute(caller, id, query.max_messages) };
  }
}
