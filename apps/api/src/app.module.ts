import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AuthModule } from '@purple/auth';
import { parseAllowlist, splitAllowlist } from '@purple/bus';
import { MessagingModule } from '@purple/messaging';
import { PersistenceModule } from '@purple/persistence';
import { CommonEnv, ConfigError, PlatformModule, loadConfig } from '@purple/platform';
import { TokenModule } from './auth/token.module';
import { CheckingApiModule } from './checking/checking-api.module';
import { ClientsModule } from './clients/clients.module';
import { ApiConfigModule } from './config/api-config.module';
import { ApiEnv, malformedProxies } from './config/api-env';
import { DeadLettersModule } from './dead-letters/dead-letters.module';
import { ErrorResponsesFilter } from './http/error-responses.filter';
import { RefuseControlCharactersMiddleware } from './http/refuse-control-characters.middleware';
import { RefuseCredentialsInQueryMiddleware } from './http/refuse-credentials-in-query.middleware';
import { MessagesModule } from './messages/messages.module';
import { StreamModule } from './stream/stream.module';

@Module({})
export class ApiModule implements NestModule {
  static register(common: CommonEnv): DynamicModule {
    const env = loadApiEnv(common.source ?? process.env);
    return {
      module: ApiModule,
      imports: [
        PlatformModule.forApp('api', env),
        PersistenceModule.forRoot('api', env),
        MessagingModule.forApp('api'),
        ApiConfigModule.forRoot(env),
        AuthModule.forRoot({ signingKey: env.TOKEN_SIGNING_KEY, tokenTtlSeconds: env.TOKEN_TTL_SECONDS }),
        TokenModule,
        ClientsModule,
        MessagesModule,
        StreamModule,
        DeadLettersModule,
        CheckingApiModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: ErrorResponsesFilter }],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RefuseCredentialsInQueryMiddleware, RefuseControlCharactersMiddleware).forRoutes('{*path}');
  }
}

/** ApiEnv, validated; a malformed WEBHOOK_ALLOWLIST or TRUSTED_PROXIES entry is caught here rather than later. */
export function loadApiEnv(source: NodeJS.ProcessEnv): ApiEnv {
  const env = loadConfig(ApiEnv, source);
  try {
    parseAllowlist(splitAllowlist(env.WEBHOOK_ALLOWLIST));
  } catch (error) {
    throw new ConfigError([`WEBHOOK_ALLOWLIST is malformed (${(error as Error).message})`]);
  }
  if (env.SEND_BYTES_IN_FLIGHT < env.MAX_BODY_BYTES) {
    throw new ConfigError([`SEND_BYTES_IN_FLIGHT is malformed (it must be at least MAX_BODY_BYTES, ${env.MAX_BODY_BYTES})`]);
  }
  const badProxies = malformedProxies(env.trustedProxies);
  if (badProxies.length > 0) {
    throw new ConfigError([`TRUSTED_PROXIES is malformed (not an address, a CIDR, loopback, linklocal or uniquelocal: ${badProxies.join(', ')})`]);
  }
  return env;
}
