import { describeServiceLifecycle } from '@purple/testing';
import { DispatcherModule } from '../src/app.module';

describeServiceLifecycle('dispatcher', (env) => DispatcherModule.register(env));
