import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsString } from 'class-validator';
import { ConfigError, loadConfig } from './config';
import { DEVELOPMENT_DATABASE_PASSWORDS, DEVELOPMENT_SECRETS, refuseDevelopmentSecrets } from './development-secrets';

class SomeEnv {
  @IsString()
  TOKEN_SIGNING_KEY!: string;
}

const problems = (env: Record<string, string>): string => {
  try {
    loadConfig(SomeEnv, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  return 'no error';
};

describe('development secrets (issue 12 #11)', () => {
  it('lists every secret value .env.example ships', () => {
    const example = readFileSync(join(__dirname, '../../../.env.example'), 'utf8');
    const shipped = Object.fromEntries(
      [...example.matchAll(/^([A-Z_]+(?:PASSWORD|SECRET|KEY))=(.+)$/gm)].map((m) => [m[1], m[2].trim()]).filter(([name]) => name !== 'RABBITMQ_ADMIN_PASSWORD'),
    );
    expect(DEVELOPMENT_SECRETS).toEqual(shipped);
  });

  it('refuses to load a configuration holding one, naming the variable and not the value', () => {
    const message = problems({ TOKEN_SIGNING_KEY: DEVELOPMENT_SECRETS['TOKEN_SIGNING_KEY'], SOAR_API_PASSWORD: 'dev-soar-api' });
    expect(message).toContain('TOKEN_SIGNING_KEY holds the development value from .env.example');
    expect(message).toContain('SOAR_API_PASSWORD holds the development value');
    expect(message).not.toContain(DEVELOPMENT_SECRETS['TOKEN_SIGNING_KEY']);
    expect(message).not.toContain('dev-soar-api');
  });

  it('accepts them with NODE_ENV=development or ALLOW_DEVELOPMENT_SECRETS=true, and accepts other values anywhere', () => {
    const dev = { TOKEN_SIGNING_KEY: DEVELOPMENT_SECRETS['TOKEN_SIGNING_KEY'] };
    expect(problems({ ...dev, NODE_ENV: 'development' })).toBe('no error');
    expect(problems({ ...dev, ALLOW_DEVELOPMENT_SECRETS: 'true' })).toBe('no error');
    expect(problems({ ...dev, NODE_ENV: 'production', ALLOW_DEVELOPMENT_SECRETS: 'yes' })).toMatch(/TOKEN_SIGNING_KEY holds/);
    expect(() => refuseDevelopmentSecrets({ TOKEN_SIGNING_KEY: 'a-real-key-of-our-own-0123456789abcdef', NODE_ENV: 'production' })).not.toThrow();
  });

  it('lists the password of every database URL .env.example ships, and refuses a URL holding one (issue 12 #12)', () => {
    const example = readFileSync(join(__dirname, '../../../.env.example'), 'utf8');
    const shipped = Object.fromEntries(
      [...example.matchAll(/^([A-Z_]+_DATABASE_URL)=(.+)$/gm)]
        .map((m) => [m[1], decodeURIComponent(new URL(m[2].trim()).password)])
        .filter(([, password]) => password !== ''),
    );
    expect(DEVELOPMENT_DATABASE_PASSWORDS).toEqual(shipped);
    expect(Object.keys(shipped)).toHaveLength(7);

    const url = `postgres://purple_api:${DEVELOPMENT_DATABASE_PASSWORDS['API_DATABASE_URL']}@db.example:5432/purple`;
    const message = problems({ TOKEN_SIGNING_KEY: 'a-real-key-of-our-own-0123456789abcdef', API_DATABASE_URL: url });
    expect(message).toContain('API_DATABASE_URL holds the development value from .env.example');
    expect(message).not.toContain(DEVELOPMENT_DATABASE_PASSWORDS['API_DATABASE_URL']);
    expect(problems({ TOKEN_SIGNING_KEY: 'a-real-key-of-our-own-0123456789abcdef', API_DATABASE_URL: url, NODE_ENV: 'development' })).toBe('no error');
    expect(() => refuseDevelopmentSecrets({ API_DATABASE_URL: 'postgres://purple_api:0f3c9a@db.example/purple' })).not.toThrow();
  });
});
