/*
 * The worker's secrets, kept out of what it publishes. A command or a product's answer can echo a credential (a
 * local `grep -a PASSWORD /proc/1/environ`, a SIEM event that logged a connection string); the response is stored
 * and readable by every `checking:read` client, so each secret value is replaced before the response leaves.
 */

/** Variable names whose values are secrets: passwords, tokens, keys, credentials, and the database URL. */
const SECRET_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE|DATABASE_URL$/i;
/** Shorter values would redact ordinary words (and no real secret is this short). */
const MIN_SECRET_LENGTH = 6;
export const REDACTED = '[redacted]';

/**
 * The secret values of the environments: every value of a secret-named variable, and the password in any URL with
 * credentials (`amqp://user:password@host`), as written and decoded. Longest first, so a secret that contains
 * another is replaced whole.
 */
export function secretValuesOf(env: NodeJS.ProcessEnv, otherEnv: NodeJS.ProcessEnv = {}, otherSecrets: readonly string[] = []): string[] {
  const secrets = new Set<string>(otherSecrets);
  const envs = [env, otherEnv];
  for (const env of envs) {
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) continue;
      if (SECRET_NAME.test(name) && !/^(?:true|false|\d+)$/i.test(value.trim())) secrets.add(value);
      for (const password of urlPasswordsOf(value)) secrets.add(password);
    }
  }
  return [...secrets].filter((secret) => secret.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

function urlPasswordsOf(value: string): string[] {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(value)) return [];
  try {
    const password = new URL(value).password;
    if (password === '') return [];
    return [password, decodeURIComponent(password)];
  } catch {
    return [];
  }
}

/** `text` with every secret value replaced by {@link REDACTED}. */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}
