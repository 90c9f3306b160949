import 'reflect-metadata';
import { serviceMain } from '@purple/messaging';
import { ApiModule } from './app.module';
import { configureApi } from './configure';

serviceMain('api', (env) => ApiModule.register(env), { configure: configureApi });
