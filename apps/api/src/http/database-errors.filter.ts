import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { QueryFailedError } from 'typeorm';

/** SQLSTATE class 22, "data exception": a value PostgreSQL cannot take (NUL in text, malformed uuid, out of range). */
const DATA_EXCEPTION = /^22/;

/**
 * A failed query never shows its message to the caller (it names tables, columns and values): a value the database
 * refused is the caller's 400, anything else a 503 to retry. The detail goes to the log.
 */
@Catch(QueryFailedError)
export class DatabaseErrorsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Database');

  catch(error: QueryFailedError, host: ArgumentsHost): void {
    const code = (error.driverError as { code?: string } | undefined)?.code ?? '';
    const response = host.switchToHttp().getResponse<Response>();
    if (DATA_EXCEPTION.test(code)) {
      response.status(400).json({ statusCode: 400, error: 'Bad Request', message: 'a value in the request is not valid here' });
      return;
    }
    this.logger.error(`a query failed (SQLSTATE ${code || 'unknown'}): ${error.message}`);
    response.status(503).json({ statusCode: 503, error: 'Service Unavailable', message: 'the database failed; try again later' });
  }
}
