import { DynamicModule, Module } from '@nestjs/common';
import { agentExecutorsFromEnv, DetectionWorkerEnv, DetectionWorkerModule } from '@purple/detection';
import { MessagingModule } from '@purple/messaging';
import { CommonEnv, loadConfig, PlatformModule } from '@purple/platform';

/**
 * `caldera.checking.agent.tasks` → the host executors configured in the environment (`local`: allowlisted programs
 * on the worker's own host, when LOCAL_EXECUTOR_ALLOWLIST is set) → `checking.agent.response`. A task for an
 * executor that is not configured is answered `unsupported`.
 */
@Module({})
export class AgentWorkerModule {
  static register(env: CommonEnv): DynamicModule {
    const source = env.source ?? process.env;
    const config = loadConfig(DetectionWorkerEnv, source);
    return {
      module: AgentWorkerModule,
      imports: [
        PlatformModule.forApp('agent-worker', env),
        MessagingModule.forApp('agent-worker'),
        DetectionWorkerModule.register({ app: 'agent-worker', detectionType: 'agent', env: config, connectors: agentExecutorsFromEnv(source), secretEnv: source }),
      ],
    };
  }
}
