import { describeServiceLifecycle } from '@purple/testing';
import { BusRouterModule } from '../src/app.module';
import { WEBHOOK_SECRET_KEY } from './support';

describeServiceLifecycle('bus-router', (env) => BusRouterModule.register(env), () => ({ WEBHOOK_SECRET_KEY }));
