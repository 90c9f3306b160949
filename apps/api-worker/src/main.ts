import 'reflect-metadata';
import { serviceMain } from '@purple/messaging';
import { ApiWorkerModule } from './app.module';

serviceMain('api-worker', (env) => ApiWorkerModule.register(env));
