import 'reflect-metadata';
import { serviceMain } from '@purple/messaging';
import { CalderaConsumerModule } from './app.module';

serviceMain('caldera-consumer', (env) => CalderaConsumerModule.register(env));
