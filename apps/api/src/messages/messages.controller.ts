import { Body, Controller, Get, Headers, HttpCode, Post, Query, Req, Res, UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiBody,
  ApiForbiddenResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnprocessableEntityResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { AuthenticatedClient, BearerAuthGuard, ClientPrincipal, RequireScopes } from '@purple/auth';
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_WINDOW_HOURS } from '@purple/contracts';
import type { Request, Response } from 'express';
import { onResponseSettled } from '../http/response-outcome';
import { requestValidation } from '../http/validation';
import { AcceptedMessageDto, EnvelopeDto, NotifyRequestDoc, ReceiveQuery, SendRequestDoc } from './messages.dto';
import { NotifyUseCase } from './notify.use-case';
import { ReceiveMessagesUseCase } from './receive-messages.use-case';
import { SendMessageUseCase } from './send-message.use-case';
import { BrokerUnavailableFilter } from './broker-unavailable.filter';
import { SendQuotaExceededFilter } from './send-quota';

const correlationIdOf = (req: Request) => (req as Request & { id?: string }).id;

const IDEMPOTENCY_KEY_DOC = {
  name: IDEMPOTENCY_KEY_HEADER,
  required: false,
  description:
    `Makes retries safe: a request with a key this client used in the last ${IDEMPOTENCY_WINDOW_HOURS} h answers the first ` +
    'answer (the same message_id) and publishes nothing new, on any api replica and after restarts. 1-255 visible ASCII ' +
    'characters (a UUID is a good key). If the first attempt failed (503), the retry publishes under the same message_id.',
};

@ApiTags('bus')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'no token, or an invalid, expired or revoked one' })
@ApiForbiddenResponse({ description: 'the token lacks the `bus` scope' })
@ApiServiceUnavailableResponse({
  description: 'the broker is unreachable, or refused the message because the destination queue is full (nothing was queued); see Retry-After',
})
@Controller()
@UseGuards(BearerAuthGuard)
@RequireScopes('bus')
@UsePipes(requestValidation())
@UseFilters(SendQuotaExceededFilter, BrokerUnavailableFilter)
export class MessagesController {
  constructor(
    private readonly sendMessage: SendMessageUseCase,
    private readonly notify: NotifyUseCase,
    private readonly receiveMessages: ReceiveMessagesUseCase,
  ) {}

  @Post('send')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a message by topic to every client whose subscription matches it' })
  @ApiBody({ type: SendRequestDoc })
  @ApiAcceptedResponse({ type: AcceptedMessageDto, description: 'the broker has stored the message' })
  @ApiBadRequestResponse({ description: 'a malformed topic, a missing message, or not a JSON object' })
  @ApiPayloadTooLargeResponse({ description: 'the body is larger than MAX_BODY_BYTES' })
  @ApiHeader(IDEMPOTENCY_KEY_DOC)
  @ApiUnprocessableEntityResponse({ description: 'the Idempotency-Key was used for a different request' })
  @ApiTooManyRequestsResponse({ description: 'over the per-client send quota (SEND_RATE_PER_SECOND, SEND_BYTES_IN_FLIGHT); see Retry-After' })
  async send(
    @AuthenticatedClient() caller: ClientPrincipal,
    @Body() body: unknown,
    @Req() req: Request,
    @Headers(IDEMPOTENCY_KEY_HEADER.toLowerCase()) idempotencyKey?: string,
  ): Promise<AcceptedMessageDto> {
    return { message_id: await this.sendMessage.execute(caller.clientId, body, correlationIdOf(req), idempotencyKey) };
  }

  @Post('notify')
  @HttpCode(202)
  @ApiOperation({ summary: 'Broadcast a message to every client' })
  @ApiBody({ type: NotifyRequestDoc })
  @ApiAcceptedResponse({ type: AcceptedMessageDto, description: 'the broker has stored the message' })
  @ApiBadRequestResponse({ description: 'a missing message, or not a JSON object' })
  @ApiPayloadTooLargeResponse({ description: 'the body is larger than MAX_BODY_BYTES' })
  @ApiHeader(IDEMPOTENCY_KEY_DOC)
  @ApiUnprocessableEntityResponse({ description: 'the Idempotency-Key was used for a different request' })
  @ApiTooManyRequestsResponse({ description: 'over the per-client send quota (SEND_RATE_PER_SECOND, SEND_BYTES_IN_FLIGHT); see Retry-After' })
  async broadcast(
    @AuthenticatedClient() caller: ClientPrincipal,
    @Body() body: unknown,
    @Req() req: Request,
    @Headers(IDEMPOTENCY_KEY_HEADER.toLowerCase()) idempotencyKey?: string,
  ): Promise<AcceptedMessageDto> {
    return { message_id: await this.notify.execute(caller.clientId, body, correlationIdOf(req), idempotencyKey) };
  }

  @Get('receive')
  @ApiOperation({
    summary: "Take messages from the caller's inbox",
    description:
      'Messages are acknowledged only once this response has been written; if the connection drops first they stay ' +
      'in the inbox and are delivered again (dedupe on message_id).',
  })
  @ApiOkResponse({ type: EnvelopeDto, isArray: true })
  @ApiBadRequestResponse({ description: 'max_messages or wait_seconds out of range' })
  async receive(
    @AuthenticatedClient() caller: ClientPrincipal,
    @Query() query: ReceiveQuery,
    @Res({ passthrough: true }) res: Response,
  ): Promise<EnvelopeDto[]> {
    const callerGone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) callerGone.abort();
    });
    const received = await this.receiveMessages.execute(
      caller.clientId,
      { maxMessages: query.max_messages, waitSeconds: query.wait_seconds },
      callerGone.signal,
    );
    if (callerGone.signal.aborted) {
      await received.abandoned();
      return [];
    }
    onResponseSettled(res, (written) => void (written ? received.delivered() : received.abandoned()));
    return received.envelopes;
  }
}
