import 'reflect-metadata';
import { serviceMain } from '@purple/messaging';
import { ResultConsumerModule } from './app.module';

serviceMain('result-consumer', (env) => ResultConsumerModule.register(env));
