import {
  Body,
  ConflictException,
  Controller,
  Get,
  Header,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Query,
  UnprocessableEntityException,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  ApiUnauthorizedResponse,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { AuthenticatedClient, BearerAuthGuard, ClientPrincipal, RequireScopes } from '@purple/auth';
import {
  CompareOperations,
  comparisonCsvRows,
  GetSourceMatrix,
  GetTimeToDetect,
  OperationNotFoundError,
  DeadLetterNotFoundError,
  GetDeadLetter,
  ListDeadLetters,
  RedispatchTask,
  ReplayDeadLetter,
  ReplayRejectedError,
  TaskAlreadyCompletedError,
  TaskNotFoundError,
} from '@purple/checking';
import { requestValidation } from '../http/validation';
import {
  CompareQuery,
  ComparisonDto,
  SourceMatrixDto,
  TimeToDetectDto,
  TimeToDetectQuery,
  ExecutionDetailDto,
  ExecutionPageDto,
  ExecutionQuery,
  OperationDetailDto,
  OperationPageDto,
  PageQuery,
  DeadLetterQueryDto,
  RedispatchDto,
  ReplayOutcomeDto,
  ReplayRequestDto,
} from './checking.dto';
import { csvCell } from './executions-csv';
import { buildComparisonLayer } from './navigator-layer';
import { ExportExecutionsCsv } from './export-executions-csv.use-case';
import { GetExecution } from './get-execution.use-case';
import { GetNavigatorLayer } from './get-navigator-layer.use-case';
import { GetOperation } from './get-operation.use-case';
import { ListExecutions } from './list-executions.use-case';
import { ListOperations } from './list-operations.use-case';

/** The engine's errors as HTTP answers with their reasons. */
function asHttpError(error: unknown): unknown {
  if (error instanceof TaskNotFoundError || error instanceof DeadLetterNotFoundError || error instanceof OperationNotFoundError) {
    return new NotFoundException(error.message);
  }
  if (error instanceof TaskAlreadyCompletedError) return new ConflictException(error.message);
  if (error instanceof ReplayRejectedError) return new UnprocessableEntityException({ message: error.message, reasons: error.reasons });
  return error;
}

/**
 * The checking engine's results for purple teams: read from PostgreSQL only. The two operator actions
 * (redispatch, replay) change rows the dispatcher and consumers pick up; they need the checking:admin scope.
 */
@ApiTags('checking')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'no token, or an invalid, expired or revoked one' })
@ApiForbiddenResponse({ description: 'the token lacks the checking:read scope (checking:admin for redispatch and replay)' })
@Controller('checking')
@UseGuards(BearerAuthGuard)
@RequireScopes('checking:read')
@UsePipes(requestValidation())
export class CheckingController {
  constructor(
    private readonly listOperations: ListOperations,
    private readonly getOperation: GetOperation,
    private readonly listExecutions: ListExecutions,
    private readonly getExecution: GetExecution,
    private readonly navigatorLayer: GetNavigatorLayer,
    private readonly exportCsv: ExportExecutionsCsv,
    private readonly redispatchTask: RedispatchTask,
    private readonly listDeadLetters: ListDeadLetters,
    private readonly getDeadLetter: GetDeadLetter,
    private readonly replayDeadLetter: ReplayDeadLetter,
    private readonly sourceMatrix: GetSourceMatrix,
    private readonly compareOperations: CompareOperations,
    private readonly timeToDetect: GetTimeToDetect,
  ) {}

  @Get('operations/:operation_id/sources')
  @ApiOperation({ summary: 'Sources × outcomes per ATT&CK technique, naming the techniques where sources disagree' })
  @ApiOkResponse({ type: SourceMatrixDto })
  @ApiNotFoundResponse({ description: 'no such operation' })
  sources(@Param('operation_id') operationId: string) {
    return this.sourceMatrix.execute(operationId).catch((e) => Promise.reject(asHttpError(e)));
  }

  @Get('operations/:a/compare/:b')
  @ApiOperation({ summary: 'Run b against the baseline run a: newly missed, newly detected, still missed, slower, per technique and source' })
  @ApiOkResponse({ type: ComparisonDto })
  @ApiNotFoundResponse({ description: 'no such operation' })
  compare(@Param('a') a: string, @Param('b') b: string, @Query() q: CompareQuery) {
    return this.compareOperations.execute(a, b, q.latency_threshold_ms).catch((e) => Promise.reject(asHttpError(e)));
  }

  @Get('operations/:a/compare/:b/csv')
  @ApiOperation({ summary: 'The comparison as CSV: one line per technique and host (source `*`) and per source' })
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'CSV' })
  @ApiNotFoundResponse({ description: 'no such operation' })
  @Header('Content-Type', 'text/csv; charset=utf-8')
  @Header('Content-Disposition', 'attachment; filename="comparison.csv"')
  async compareCsv(@Param('a') a: string, @Param('b') b: string, @Query() q: CompareQuery) {
    const comparison = await this.compareOperations.execute(a, b, q.latency_threshold_ms).catch((e) => Promise.reject(asHttpError(e)));
    return `${comparisonCsvRows(comparison).map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
  }

  @Get('operations/:a/compare/:b/navigator-layer')
  @ApiOperation({ summary: 'The comparison as an ATT&CK Navigator layer: techniques regressed (red), improved (green) or unchanged (grey)' })
  @ApiOkResponse({ description: 'ATT&CK Navigator layer, format 4.5' })
  @ApiNotFoundResponse({ description: 'no such operation' })
  @Header('Content-Disposition', 'attachment; filename="comparison-layer.json"')
  async compareLayer(@Param('a') a: string, @Param('b') b: string, @Query() q: CompareQuery) {
    return buildComparisonLayer(await this.compareOperations.execute(a, b, q.latency_threshold_ms).catch((e) => Promise.reject(asHttpError(e))));
  }

  @Get('time-to-detect')
  @ApiOperation({ summary: "p50/p90 time to detect per source and per source and technique, and each source's learned ingestion delay" })
  @ApiOkResponse({ type: TimeToDetectDto })
  @ApiNotFoundResponse({ description: 'no such operation' })
  timeToDetectStats(@Query() q: TimeToDetectQuery) {
    return this.timeToDetect.execute(q.operation_id).catch((e) => Promise.reject(asHttpError(e)));
  }

  @Get('operations')
  @ApiOperation({ summary: 'Operations with their detection summary, newest first' })
  @ApiOkResponse({ type: OperationPageDto })
  operations(@Query() page: PageQuery) {
    return this.listOperations.execute(page.limit, page.offset);
  }

  @Get('operations/:operation_id')
  @ApiOperation({ summary: "One operation (Caldera's id): summary, and the same per ATT&CK technique" })
  @ApiOkResponse({ type: OperationDetailDto })
  @ApiNotFoundResponse({ description: 'no such operation' })
  operation(@Param('operation_id') operationId: string) {
    return this.getOperation.execute(operationId);
  }

  @Get('operations/:operation_id/navigator-layer')
  @ApiOperation({ summary: "The operation's coverage as an ATT&CK Navigator layer (JSON), to load into ATT&CK Navigator" })
  @ApiOkResponse({ description: 'ATT&CK Navigator layer, format 4.5' })
  @ApiNotFoundResponse({ description: 'no such operation' })
  @Header('Content-Disposition', 'attachment; filename="navigator-layer.json"')
  layer(@Param('operation_id') operationId: string) {
    return this.navigatorLayer.execute(operationId);
  }

  @Get('operations/:operation_id/executions.csv')
  @ApiOperation({ summary: "The operation's executions and verdicts as CSV" })
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'CSV, one execution per line' })
  @ApiNotFoundResponse({ description: 'no such operation' })
  @Header('Content-Type', 'text/csv; charset=utf-8')
  @Header('Content-Disposition', 'attachment; filename="executions.csv"')
  csv(@Param('operation_id') operationId: string) {
    return this.exportCsv.execute(operationId);
  }

  @Get('executions')
  @ApiOperation({ summary: 'Executions, filtered by operation, host, paw, verdict and time, newest first' })
  @ApiOkResponse({ type: ExecutionPageDto })
  executions(@Query() q: ExecutionQuery) {
    return this.listExecutions.execute({
      operationId: q.operation_id,
      host: q.host,
      paw: q.paw,
      verdict: q.verdict,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
      limit: q.limit,
      offset: q.offset,
    });
  }

  @Get('executions/:id')
  @ApiOperation({ summary: 'One execution with its verdict and its tasks, each with its status and result' })
  @ApiOkResponse({ type: ExecutionDetailDto })
  @ApiNotFoundResponse({ description: 'no such execution' })
  execution(@Param('id') id: string) {
    return this.getExecution.execute(id);
  }

  @Post('tasks/:id/redispatch')
  @HttpCode(202)
  @RequireScopes('checking:admin')
  @ApiOperation({ summary: 'Send a failed or timed-out task to the workers again (the dispatcher picks it up)' })
  @ApiOkResponse({ type: RedispatchDto })
  @ApiNotFoundResponse({ description: 'no such task' })
  @ApiConflictResponse({ description: 'the task already has its answer' })
  redispatch(@Param('id') id: string) {
    return this.redispatchTask.execute(id).catch((e) => Promise.reject(asHttpError(e)));
  }

  @Get('dead-letters')
  @ApiOperation({ summary: 'Checking-engine messages that could not be processed, with the reason, newest first' })
  deadLetters(@Query() q: DeadLetterQueryDto) {
    return this.listDeadLetters.execute({
      queue: q.queue,
      replayed: q.replayed === undefined ? undefined : q.replayed === 'true',
      limit: q.limit,
      offset: q.offset,
    });
  }

  @Get('dead-letters/:id')
  @ApiOperation({ summary: 'One dead letter with its whole body (as text)' })
  @ApiNotFoundResponse({ description: 'no such dead letter' })
  async deadLetter(@Param('id') id: string) {
    const { body, ...rest } = await this.getDeadLetter.execute(id).catch((e) => Promise.reject(asHttpError(e)));
    return { ...rest, body: body.toString('utf8') };
  }

  @Post('dead-letters/:id/replay')
  @HttpCode(200)
  @RequireScopes('checking:admin')
  @ApiOperation({
    summary: 'Process a dead letter again, as stored or with a fixed body (an execution result only as stored); an edit is logged and recorded with who made it',
  })
  @ApiOkResponse({ type: ReplayOutcomeDto })
  @ApiNotFoundResponse({ description: 'no such dead letter' })
  @ApiUnprocessableEntityResponse({ description: 'the (fixed) body still cannot be processed; the reasons say why' })
  replay(@AuthenticatedClient() caller: ClientPrincipal, @Param('id') id: string, @Body() request: ReplayRequestDto) {
    return this.replayDeadLetter.execute(id, request.body, caller.clientId).catch((e) => Promise.reject(asHttpError(e)));
  }
}
