import 'reflect-metadata';
import { serviceMain } from '@purple/messaging';
import { ApiModule } from './app.module';
import { setupSwagger } from './swagger';

serviceMain('api', (env) => ApiModule.register(env), { configure: setupSwagger });
