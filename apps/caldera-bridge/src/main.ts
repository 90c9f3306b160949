import 'reflect-metadata';
import { serviceMain } from '@purple/messaging';
import { CalderaBridgeModule } from './app.module';

serviceMain('caldera-bridge', (env) => CalderaBridgeModule.register(env));
