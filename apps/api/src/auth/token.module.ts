import { Module } from '@nestjs/common';
import { AuthModule } from '@purple/auth';
import { ClientsModule } from '../clients/clients.module';
import { ApiEnv } from '../config/api-env';
import { AdminClientBootstrap, EnsureAdminClientUseCase } from './ensure-admin-client';
import { IssueTokenUseCase } from './issue-token.use-case';
import { LoginFailureRepository } from './login-failure.repository';
import { LoginRateLimiter } from './login-rate-limiter';
import { TokenController } from './token.controller';

/** `POST /token` and the bootstrap admin. */
@Module({
  imports: [AuthModule, ClientsModule],
  controllers: [TokenController],
  providers: [
    IssueTokenUseCase,
    LoginFailureRepository,
    { provide: LoginRateLimiter, inject: [LoginFailureRepository, ApiEnv], useFactory: LoginRateLimiter.fromEnv },
    EnsureAdminClientUseCase,
    AdminClientBootstrap,
  ],
})
export class TokenModule {}
