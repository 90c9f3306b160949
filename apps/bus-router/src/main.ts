import 'reflect-metadata';
import { serviceMain } from '@purple/messaging';
import { BusRouterModule } from './app.module';

serviceMain('bus-router', (env) => BusRouterModule.register(env));
