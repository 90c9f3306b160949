import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { Response } from 'express';
import { isTransientDatabaseError } from '@purple/persistence';
import { QueryFailedError } from 'typeorm';

/** SQLSTATE class 22, "data exception": a value PostgreSQL cannot take (NUL in text, malformed uuid, out of range). */
const DATA_EXCEPTION = /^22/;
/** Seconds a caller should wait on a 503 that says nothing better: a restart or failover takes seconds. */
export const RETRY_AFTER_UNAVAILABLE_SECONDS = 1;

/**
 * The api's last word on errors no controller's filter took. A failed query never shows its message to the caller
 * (it names tables, columns and values): a value the database refused is the caller's 400, anything else a 503 to
 * retry. A database that cannot be reached (the driver's connection errors are not QueryFailedError) is a 503 too,
 * never a 500. Every 503 carries Retry-After. Everything else is Nest's own handling. The detail goes to the log.
 */
@Catch()
export class ErrorResponsesFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('Errors');

  override catch(error: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') {
      super.catch(error, host);
      return;
    }
    const response = host.switchToHttp().getResponse<Response>();
    if (!(error instanceof QueryFailedError || isTransientDatabaseError(error))) {
      if (error instanceof HttpException && error.getStatus() === HttpStatus.SERVICE_UNAVAILABLE && !response.getHeader('retry-after')) {
        response.set('Retry-After', String(RETRY_AFTER_UNAVAILABLE_SECONDS));
      }
      super.catch(error, host);
      return;
    }
    const code = error instanceof QueryFailedError ? ((error.driverError as { code?: string } | undefined)?.code ?? '') : '';
    if (DATA_EXCEPTION.test(code)) {
      response.status(400).json({ statusCode: 400, error: 'Bad Request', message: 'a value in the request is not valid here' });
      return;
    }
    if (error instanceof QueryFailedError) this.logger.error(`a query failed (SQLSTATE ${code || 'unknown'}): ${error.message}`);
    else this.logger.warn(`PostgreSQL unreachable: ${(error as Error).message.split('\n')[0]}`);
    response.set('Retry-After', String(RETRY_AFTER_UNAVAILABLE_SECONDS));
    response.status(503).json({ statusCode: 503, error: 'Service Unavailable', message: 'the database failed; try again later' });
  }
}
