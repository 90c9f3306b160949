import 'reflect-metadata';
import { serviceMain } from '@purple/messaging';
import { AgentWorkerModule } from './app.module';

serviceMain('agent-worker', (env) => AgentWorkerModule.register(env));
