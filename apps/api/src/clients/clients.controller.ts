import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, UseGuards, UsePipes } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { AuthenticatedClient, BearerAuthGuard, ClientPrincipal, RequireScopes, SCOPES } from '@purple/auth';
import { ClientIdPipe } from '../http/client-id.pipe';
import { requestValidation } from '../http/validation';
import { clientView } from './client-view';
import { ClientDto, ClientSecretDto, CreateClientRequest, CreatedClientDto, UpdateClientRequest, UpdatedClientDto } from './clients.dto';
import { CreateClientUseCase } from './create-client.use-case';
import { DeleteClientUseCase } from './delete-client.use-case';
import { GetClientUseCase } from './get-client.use-case';
import { ListClientsUseCase } from './list-clients.use-case';
import { RotateClientSecretUseCase } from './rotate-client-secret.use-case';
import { UpdateClientUseCase } from './update-client.use-case';

@ApiTags('clients')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'no token, or an invalid, expired or revoked one' })
@ApiForbiddenResponse({ description: 'not the admin (nor, where allowed, the client itself)' })
@Controller('clients')
@UseGuards(BearerAuthGuard)
@UsePipes(requestValidation())
export class ClientsController {
  constructor(
    private readonly createClient: CreateClientUseCase,
    private readonly listClients: ListClientsUseCase,
    private readonly getClient: GetClientUseCase,
    private readonly updateClient: UpdateClientUseCase,
    private readonly deleteClient: DeleteClientUseCase,
    private readonly rotateSecret: RotateClientSecretUseCase,
  ) {}

  @Post()
  @RequireScopes('admin')
  @ApiOperation({ summary: 'Register a client (admin); creates its queues; its secret is shown only in this answer' })
  @ApiCreatedResponse({ type: CreatedClientDto })
  @ApiBadRequestResponse({ description: 'an invalid field, subscription pattern or webhook URL' })
  @ApiConflictResponse({ description: 'the client id is taken' })
  @ApiServiceUnavailableResponse({ description: 'the broker or database is unreachable; nothing was created' })
  async create(@AuthenticatedClient() caller: ClientPrincipal, @Body() body: CreateClientRequest): Promise<CreatedClientDto> {
    const created = await this.createClient.execute(body, caller);
    return {
      ...clientView(created.client),
      client_secret: created.clientSecret,
      ...(created.webhookSecret ? { webhook_secret: created.webhookSecret } : {}),
    };
  }

  @Get()
  @RequireScopes('admin')
  @ApiOperation({ summary: 'List the clients (admin)' })
  @ApiOkResponse({ type: ClientDto, isArray: true })
  async list(): Promise<ClientDto[]> {
    return (await this.listClients.execute()).map(clientView);
  }

  @Get(':id')
  // any scope will do for one's own record, but a token whose scopes were all withdrawn reads nothing
  @RequireScopes(...SCOPES)
  @ApiOperation({ summary: 'Read a client (the admin, or the client itself)' })
  @ApiOkResponse({ type: ClientDto })
  @ApiNotFoundResponse({ description: 'no such client' })
  async get(@AuthenticatedClient() caller: ClientPrincipal, @Param('id', ClientIdPipe) id: string): Promise<ClientDto> {
    return clientView(await this.getClient.execute(caller, id));
  }

  @Patch(':id')
  @RequireScopes('admin')
  @ApiOperation({ summary: 'Change a client (admin): name, subscription (rebinds its inbox), webhook URL or webhook on/off' })
  @ApiOkResponse({ type: UpdatedClientDto })
  @ApiBadRequestResponse({ description: 'an invalid field, subscription pattern or webhook URL, or nothing to change' })
  @ApiNotFoundResponse({ description: 'no such client' })
  @ApiServiceUnavailableResponse({ description: 'the broker or database is unreachable; nothing was changed' })
  async update(@Param('id', ClientIdPipe) id: string, @Body() body: UpdateClientRequest): Promise<UpdatedClientDto> {
    const updated = await this.updateClient.execute(id, body);
    return { ...clientView(updated.client), ...(updated.webhookSecret ? { webhook_secret: updated.webhookSecret } : {}) };
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScopes('admin')
  @ApiOperation({ summary: 'Delete a client (admin): removes its queues and revokes its tokens' })
  @ApiNoContentResponse({ description: 'deleted' })
  @ApiNotFoundResponse({ description: 'no such client' })
  @ApiConflictResponse({ description: 'the configured admin cannot be deleted' })
  async remove(@Param('id', ClientIdPipe) id: string): Promise<void> {
    await this.deleteClient.execute(id);
  }

  @Post(':id/secret')
  @HttpCode(200)
  @RequireScopes('admin')
  @ApiOperation({ summary: "Rotate a client's secret (admin): the old secret and its tokens stop working at once" })
  @ApiOkResponse({ type: ClientSecretDto })
  @ApiNotFoundResponse({ description: 'no such client' })
  @ApiConflictResponse({ description: "the configured admin's secret comes from ADMIN_CLIENT_SECRET" })
  async rotate(@Param('id', ClientIdPipe) id: string): Promise<ClientSecretDto> {
    return { client_id: id, client_secret: await this.rotateSecret.execute(id) };
  }
}
