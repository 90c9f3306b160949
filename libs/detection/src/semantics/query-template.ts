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
  /** the character that opens and closes the language's main string literal, which bare placeholders become */
  readonly quote: string;
  /** the character that escapes the next one inside a string literal, if the language has one */
  readonly escapeChar?: string;
  /**
   * Makes a value safe, and literal, inside the main string literal. `context` says where the placeholder stands, so
   * a language can also neutralise what its operators read in a string (wildcards after `like`, regex metacharacters
   * after `matches regex`) or refuse (throw {@link UnsafeValueError}) a value it cannot write literally there.
   */
  escape(value: string, context?: PlaceholderContext): string;
  /**
   * The language's other string forms (`'…'`, verbatim `@"…"`, raw `"""…"""`): the renderer must know where each one
   * starts and ends, or a value inside one would be escaped for the wrong string and could close it.
   */
  readonly otherStrings?: readonly StringForm[];
  /** `escapeChar` also escapes the next character outside strings (Lucene: `\/`, `\"` are no string openings) */
  readonly escapesOutsideStrings?: boolean;
  /** how `{{earliest}}` and `{{latest}}` are written */
  formatTime(time: Date): string;
}

/** A string literal form of a query language other than its main one. */
export interface StringForm {
  readonly open: string;
  readonly close: string;
  /** the escape character inside it, if any (verbatim and raw strings have none) */
  readonly escapeChar?: string;
  /** a doubled `close` stands for one close character (verbatim strings: `@"a""b"`) */
  readonly doubledClose?: boolean;
  /** makes a value literal inside this form, or refuses it ({@link UnsafeValueError}) */
  escape(value: string, context: PlaceholderContext): string;
}

/** Where a placeholder stands in its template. */
export interface PlaceholderContext {
  /** the placeholder's name */
  readonly name: string;
  /** the template text before the string literal the value stands in (before the placeholder when it is bare) */
  readonly lead: string;
  /** the template text of the literal before the placeholder, opening quote excluded ('' when bare) */
  readonly inside: string;
  /** the template text after the placeholder */
  readonly after: string;
  /** whether the value is inside a string of the template (else it becomes a whole main literal) */
  readonly quoted: boolean;
}

/** A value the language cannot write literally where its placeholder stands; the task fails without searching. */
export class UnsafeValueError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnsafeValueError';
  }
}

/** The placeholders every task can use; a task's `detection_config.placeholders` may add more or override these. */
export const BUILT_IN_PLACEHOLDERS = ['host', 'paw', 'user', 'command', 'earliest', 'latest', 'marker'] as const;

const PLACEHOLDER = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/;

/** A template that cannot be rendered: placeholders without a value, or values that cannot be written literally. */
export class TemplateError extends Error {
  constructor(
    message: string,
    readonly missing: string[] = [],
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** Fills `template`'s placeholders with `values`, quoted and escaped by `syntax`; throws {@link TemplateError}. */
export function renderQueryTemplate(template: string, values: Record<string, string | undefined>, syntax: QuerySyntax): string {
  const main: StringForm = {
    open: syntax.quote,
    close: syntax.quote,
    escapeChar: syntax.escapeChar,
    escape: (value, context) => syntax.escape(value, context),
  };
  // longest opening first, so `@"` and `"""` are not read as `"`
  const forms = [...(syntax.otherStrings ?? []), main].filter((form) => form.open !== '').sort((a, b) => b.open.length - a.open.length);
  let out = '';
  let form: StringForm | undefined;
  let literalStart = 0;
  let contentStart = 0;
  const missing = new Set<string>();
  const refused: string[] = [];
  for (let i = 0; i < template.length; ) {
    const placeholder = PLACEHOLDER.exec(template.slice(i, i + 200));
    if (placeholder) {
      const name = placeholder[1];
      const value = values[name];
      const after = template.slice(i + placeholder[0].length);
      if (value === undefined) missing.add(name);
      else {
        try {
          out += form
            ? form.escape(value, { name, lead: template.slice(0, literalStart), inside: template.slice(contentStart, i), after, quoted: true })
            : syntax.quote + syntax.escape(value, { name, lead: template.slice(0, i), inside: '', after, quoted: false }) + syntax.quote;
        } catch (error) {
          if (!(error instanceof UnsafeValueError)) throw error;
          refused.push(`the value of {{${name}}} ${error.message}`);
        }
      }
      i += placeholder[0].length;
      continue;
    }
    if (form) {
      if (form.escapeChar !== undefined && template[i] === form.escapeChar && i + 1 < template.length) {
        out += template.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (template.startsWith(form.close, i)) {
        const width = form.doubledClose && template.startsWith(form.close, i + form.close.length) ? 2 * form.close.length : form.close.length;
        out += template.slice(i, i + width);
        i += width;
        if (width === form.close.length) form = undefined;
        continue;
      }
      out += template[i];
      i += 1;
      continue;
    }
    if (syntax.escapesOutsideStrings && syntax.escapeChar !== undefined && template[i] === syntax.escapeChar && i + 1 < template.length) {
      out += template.slice(i, i + 2);
      i += 2;
      continue;
    }
    const opening = forms.find((candidate) => template.startsWith(candidate.open, i));
    if (opening) {
      form = opening;
      literalStart = i;
      contentStart = i + opening.open.length;
      out += opening.open;
      i += opening.open.length;
      continue;
    }
    out += template[i];
    i += 1;
  }
  if (missing.size > 0) {
    const names = [...missing];
    throw new TemplateError(`no value for placeholder${names.length > 1 ? 's' : ''} ${names.map((m) => `{{${m}}}`).join(', ')}`, names);
  }
  if (refused.length > 0) throw new TemplateError(refused.join('; '));
  return out;
}
