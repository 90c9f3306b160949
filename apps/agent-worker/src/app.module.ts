import { DynamicModule, Module } from '@nestjs/common';
import { DetectionWorkerEnv, DetectionWorkerModule } from '@purple/detection';
import { MessagingModule } from '@purple/messaging';
import { PersistenceModule } from '@purple/persistence';
import { CommonEnv, loadConfig, PlatformModule } from '@purple/platform';

/**
 * `caldera.checking.agent.tasks` → host executors → `checking.agent.response`. No executor is built yet (Caldera
 * agent and local executors are the connectors issue's), so every task is answered `unsupported`; executors are
 * registered here as DetectionConnectors when they exist.
 */
@Module({})
export class AgentWorkerModule {
  static register(env: CommonEnv): DynamicModule {
    const config = loadConfig(DetectionWorkerEnv, env.source ?? process.env);
    return {
      module: AgentWorkerModule,
      imports: [
        PlatformModule.forApp('agent-worker', env),
        PersistenceModule.forRoot(),
        MessagingModule.forApp('agent-worker', { prefetch: config.WORKER_PREFETCH }),
        DetectionWorkerModule.register({ app: 'agent-worker', detectionType: 'agent', env: config, connectors: [] }),
      ],
    };
  }
}
