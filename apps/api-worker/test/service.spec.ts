import { describeServiceLifecycle } from '@purple/testing';
import { ApiWorkerModule } from '../src/app.module';

describeServiceLifecycle('api-worker', (env) => ApiWorkerModule.register(env));
