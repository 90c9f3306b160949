/**
 * Query templates: one detection query serves many executions through placeholders such as `{{host}}`.
 *
 * Values come from the execution (host, agent, command…) and so from the red team's side: they are never pasted in
 * raw. Each connector states its query language's string literal ({@link QuerySyntax}) and every value is inserted as
 * a string literal of that language:
 * - where the placeholder stands outside quotes (`host={{host}}`), the value becomes a whole quoted literal
 *   (`host="web-01"`);
 * - where it stands inside a quoted string of the template (`CommandLine="*{{marker}}*"`), the value is escaped for
 *   the inside of that string (`CommandLine="*abc\"def*"`).
 * Either way a value cannot close the string and add operators (`| delete`, `OR 1=1`) to the query.
 */
export interface QuerySyntax {
  /** the character that opens and closes a string literal */
  readonly quote: string;
  /** the character that escapes the next one inside a string literal, if the language has one */
  readonly escapeChar?: string;
  /** makes a value safe inside a string literal */
  escape(value: string): string;
  /** how `{{earliest}}` and `{{latest}}` are written */
  formatTime(time: Date): string;
}

/** The placeholders every task can use; a task's `detection_config.placeholders` may add more or override these. */
export const BUILT_IN_PLACEHOLDERS = ['host', 'paw', 'user', 'command', 'earliest', 'latest', 'marker'] as const;

const PLACEHOLDER = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/;

/** A placeholder the template uses but nothing gives a value for. */
export class TemplateError extends Error {
  constructor(readonly missing: string[]) {
    super(`no value for placeholder${missing.length > 1 ? 's' : ''} ${missing.map((m) => `{{${m}}}`).join(', ')}`);
    this.name = 'TemplateError';
  }
}

/** Fills `template`'s placeholders with `values`, quoted and escaped by `syntax`; throws {@link TemplateError}. */
export function renderQueryTemplate(template: string, values: Record<string, string | undefined>, syntax: QuerySyntax): string {
  let out = '';
  let inString = false;
  const missing = new Set<string>();
  for (let i = 0; i < template.length; ) {
    const placeholder = PLACEHOLDER.exec(template.slice(i, i + 200));
    if (placeholder) {
      const value = values[placeholder[1]];
      if (value === undefined) missing.add(placeholder[1]);
      else out += inString ? syntax.escape(value) : syntax.quote + syntax.escape(value) + syntax.quote;
      i += placeholder[0].length;
      continue;
    }
    const char = template[i];
    if (inString && syntax.escapeChar !== undefined && char === syntax.escapeChar && i + 1 < template.length) {
      out += char + template[i + 1];
      i += 2;
      continue;
    }
    if (char === syntax.quote) inString = !inString;
    out += char;
    i += 1;
  }
  if (missing.size > 0) throw new TemplateError([...missing]);
  return out;
}

