import { describeServiceLifecycle } from '@purple/testing';
import { ResultConsumerModule } from '../src/app.module';

describeServiceLifecycle('result-consumer', (env) => ResultConsumerModule.register(env));
