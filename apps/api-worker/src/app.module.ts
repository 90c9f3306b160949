import { DynamicModule, Module } from '@nestjs/common';
import { apiConnectorsFromEnv, DetectionWorkerEnv, DetectionWorkerModule } from '@purple/detection';
import { MessagingModule } from '@purple/messaging';
import { CommonEnv, loadConfig, PlatformModule } from '@purple/platform';

/** `caldera.checking.api.tasks` → the SIEM/EDR connectors configured in the environment → `checking.api.response`. */
@Module({})
export class ApiWorkerModule {
  static register(env: CommonEnv): DynamicModule {
    const source = env.source ?? process.env;
    const config = loadConfig(DetectionWorkerEnv, source);
    return {
      module: ApiWorkerModule,
      imports: [
        PlatformModule.forApp('api-worker', env),
        MessagingModule.forApp('api-worker'),
        DetectionWorkerModule.register({ app: 'api-worker', detectionType: 'api', env: config, connectors: apiConnectorsFromEnv(source), secretEnv: source }),
      ],
    };
  }
}
