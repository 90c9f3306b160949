import { describeServiceLifecycle } from '@purple/testing';
import { CalderaConsumerModule } from '../src/app.module';

describeServiceLifecycle('caldera-consumer', (env) => CalderaConsumerModule.register(env));
