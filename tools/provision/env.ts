import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A tiny `.env` reader: `KEY=value` lines, `#` comments, optional `export `, single or double quotes (double
 * quotes understand \n, \t, \", \\). No interpolation.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    if (value.startsWith('"')) {
      const end = findClosingQuote(value);
      value = value
        .slice(1, end)
        .replace(/\\(["\\nt])/g, (_s, c: string) => ({ n: '\n', t: '\t', '"': '"', '\\': '\\' })[c] as string);
    } else if (value.startsWith("'")) {
      const end = value.indexOf("'", 1);
      value = value.slice(1, end === -1 ? value.length : end);
    } else {
      value = value.replace(/\s+#.*$/, '').trim();
    }
    out[m[1]] = value;
  }
  return out;
}

function findClosingQuote(value: string): number {
  for (let i = 1; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === '"') return i;
  }
  return value.length;
}

/**
 * Fills `env` from `<root>/.env`, then `<root>/.env.example`, only for variables still unset: the real
 * environment wins over `.env`, which wins over the development defaults. Returns the files read.
 */
export function loadEnvFiles(root: string, env: NodeJS.ProcessEnv = process.env, files = ['.env', '.env.example']): string[] {
  const read: string[] = [];
  for (const name of files) {
    const path = join(root, name);
    if (!existsSync(path)) continue;
    for (const [k, v] of Object.entries(parseEnvFile(readFileSync(path, 'utf8')))) {
      if (env[k] === undefined || env[k] === '') env[k] = v;
    }
    read.push(name);
  }
  return read;
}
