import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BusClientEntity } from '@purple/persistence';
import { AUTH_OPTIONS, AuthOptions } from './auth-options';
import { BearerAuthGuard } from './bearer-auth.guard';
import { AccessTokenIssuer, BearerAuthenticator } from './bearer-authenticator';
import { TokenHolderRepository } from './token-holder.repository';

const PROVIDERS = [TokenHolderRepository, BearerAuthenticator, AccessTokenIssuer, BearerAuthGuard];

/**
 * Bearer-token authentication for the api. The app registers `AuthModule.forRoot({ signingKey, tokenTtlSeconds })`
 * once (global: it provides the options); a feature module imports `AuthModule` and guards its controllers with
 * `@UseGuards(BearerAuthGuard)` and `@RequireScopes(...)`. Needs PersistenceModule (the client table).
 */
@Module({
  imports: [TypeOrmModule.forFeature([BusClientEntity])],
  providers: PROVIDERS,
  exports: PROVIDERS,
})
export class AuthModule {
  static forRoot(options: AuthOptions): DynamicModule {
    return {
      module: AuthModule,
      global: true,
      providers: [{ provide: AUTH_OPTIONS, useValue: options }],
      exports: [AUTH_OPTIONS],
    };
  }
}
