import { describeServiceLifecycle } from '@purple/testing';
import { randomBytes } from 'node:crypto';
import { ApiModule } from '../src/app.module';

describeServiceLifecycle('api', (env) => ApiModule.register(env), () => ({
  TOKEN_SIGNING_KEY: randomBytes(32).toString('hex'),
  ADMIN_CLIENT_ID: 'admin',
  ADMIN_CLIENT_SECRET: randomBytes(24).toString('base64url'),
  WEBHOOK_SECRET_KEY: randomBytes(24).toString('hex'),
}));
