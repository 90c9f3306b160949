import { DynamicModule, Global, Module } from '@nestjs/common';
import { ApiEnv } from './api-env';

/** Makes the validated ApiEnv injectable everywhere in the api. */
@Global()
@Module({})
export class ApiConfigModule {
  static forRoot(env: ApiEnv): DynamicModule {
    return { module: ApiConfigModule, providers: [{ provide: ApiEnv, useValue: env }], exports: [ApiEnv] };
  }
}
