import { ValidationPipe } from '@nestjs/common';

/**
 * How the api validates its own request DTOs: unknown fields are refused (a typo should not be silently ignored),
 * query strings are converted to the declared types, and each message names its field.
 */
export const requestValidation = () =>
  new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    stopAtFirstError: true,
  });
