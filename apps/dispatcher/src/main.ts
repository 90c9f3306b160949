import 'reflect-metadata';
import { serviceMain } from '@purple/messaging';
import { DispatcherModule } from './app.module';

serviceMain('dispatcher', (env) => DispatcherModule.register(env));
