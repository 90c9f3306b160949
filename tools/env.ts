import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..');

/** Parses KEY=VALUE lines (comments and blanks ignored, optional quotes). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    out[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

/**
 * The environment the tools and `npm start` use: the real environment wins, then `.env`, then the development
 * defaults in `.env.example`. NODE_ENV defaults to `development` here, so the apps accept `.env.example`'s secrets
 * (they refuse them otherwise); a NODE_ENV set in the environment or `.env` wins.
 */
export function loadDevEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { NODE_ENV: 'development' };
  for (const file of ['.env.example', '.env']) {
    const path = join(REPO_ROOT, file);
    if (existsSync(path)) Object.assign(merged, parseEnvFile(readFileSync(path, 'utf8')));
  }
  return { ...merged, ...env };
}
