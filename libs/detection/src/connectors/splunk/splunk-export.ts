import { ConnectorError } from '../connector';

/**
 * The body of `POST /services/search/jobs/export` with `output_mode=json`: one JSON object per line,
 * `{"preview":false,"offset":0,"result":{"_time":"…","_cd":"…",…}}`, the last one with `"lastrow":true`; errors come
 * as `{"messages":[{"type":"FATAL","text":"…"}]}`. (A oneshot search answers one object with a `results` array,
 * which is read too.)
 */
export interface SplunkExport {
  results: Array<Record<string, unknown>>;
  messages: Array<{ type: string; text: string }>;
}

export function parseSplunkExport(body: string, truncated: boolean): SplunkExport {
  const lines = body.split(/\r?\n/);
  // a body cut at the size limit ends in a partial line
  if (truncated) lines.pop();
  const parsed: SplunkExport = { results: [], messages: [] };
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new ConnectorError(`splunk returned a malformed export: line ${index + 1} is not JSON`, false);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConnectorError(`splunk returned a malformed export: line ${index + 1} is not a JSON object`, false);
    }
    const row = value as Record<string, unknown>;
    if (isObject(row['result']) && row['preview'] !== true) parsed.results.push(row['result']);
    if (Array.isArray(row['results']) && row['preview'] !== true) parsed.results.push(...row['results'].filter(isObject));
    if (Array.isArray(row['messages'])) {
      for (const message of row['messages'].filter(isObject)) {
        parsed.messages.push({ type: String(message['type'] ?? ''), text: String(message['text'] ?? '') });
      }
    }
  });
  return parsed;
}

/** Splunk's own explanation of a failure (its FATAL/ERROR messages), short enough for a response. */
export function splunkErrorText(messages: SplunkExport['messages']): string | undefined {
  const errors = messages.filter((m) => /^(FATAL|ERROR)$/i.test(m.type)).map((m) => m.text.trim());
  return errors.length > 0 ? errors.join('; ').slice(0, 500) : undefined;
}

/** `_time` as Splunk writes it in JSON (`2024-01-15T10:30:05.000+00:00`), or epoch seconds. */
export function parseSplunkTime(value: unknown): Date | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim();
  const time = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : Date.parse(text);
  return Number.isNaN(time) ? undefined : new Date(time);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
