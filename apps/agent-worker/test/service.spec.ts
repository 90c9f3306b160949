import { describeServiceLifecycle } from '@purple/testing';
import { AgentWorkerModule } from '../src/app.module';

describeServiceLifecycle('agent-worker', (env) => AgentWorkerModule.register(env));
