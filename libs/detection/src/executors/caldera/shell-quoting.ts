import { QuerySyntax } from '../../semantics/query-template';
import { hostLiteral } from '../host-arguments';

/** The shells whose string literals the Caldera executors can write placeholder values as. */
export type ShellDialect = 'sh' | 'powershell';

/** Caldera executor names per dialect: a command with placeholders only runs on an executor of its connector's dialect. */
export const EXECUTORS_BY_DIALECT: Readonly<Record<ShellDialect, readonly string[]>> = {
  sh: ['sh', 'bash', 'zsh'],
  powershell: ['psh', 'pwsh'],
};

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;
/** PowerShell takes the typographic single quotes for `'` too, so each of them can end a literal */
const POWERSHELL_SINGLE_QUOTES = /['\u2018\u2019\u201a\u201b]/g;

/** `{{earliest}}`/`{{latest}}` for commands: ISO 8601 in UTC, which `date -d`, journalctl and `[datetime]` all read. */
function isoSeconds(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * sh (and bash) single-quoted literals: nothing inside is special except `'`, which is closed, escaped and reopened
 * (`'\''`). Control characters (a newline would end a `#` comment and start a command) become spaces. What the
 * program reads in the value (a leading `-`, a grep pattern) is made literal first ({@link hostLiteral}).
 */
export const SH_COMMAND_SYNTAX: QuerySyntax = {
  quote: "'",
  escape: (value, context) => hostLiteral(value, context, 'sh').replace(CONTROL_CHARACTERS, ' ').replace(/'/g, `'\\''`),
  formatTime: isoSeconds,
};

/**
 * PowerShell single-quoted (verbatim) literals: a quote character is escaped by doubling it (`'` → `''`, and the
 * same for ‘ ’ ‚ ‛, which PowerShell also takes as quotes). Control characters become spaces. Wildcards after `-like`
 * and regex metacharacters after `-match` or in a `Select-String` pattern are escaped first ({@link hostLiteral}).
 */
export const POWERSHELL_COMMAND_SYNTAX: QuerySyntax = {
  quote: "'",
  escape: (value, context) => hostLiteral(value, context, 'powershell').replace(CONTROL_CHARACTERS, ' ').replace(POWERSHELL_SINGLE_QUOTES, (quote) => quote + quote),
  formatTime: isoSeconds,
};

export const SYNTAX_BY_DIALECT: Readonly<Record<ShellDialect, QuerySyntax>> = {
  sh: SH_COMMAND_SYNTAX,
  powershell: POWERSHELL_COMMAND_SYNTAX,
};

const PLACEHOLDER = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/;

/** Whether a command template has placeholders at all (a command without any is run as written, on any executor). */
export function hasPlaceholders(template: string): boolean {
  return /\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}/.test(template);
}

/** Where a placeholder stands, as the shell reads the template. */
type ShellContext = 'bare' | 'single' | 'double' | 'ansi-c string' | 'comment' | 'here-document' | 'here-string';

/**
 * The placeholders of a command template that would not become a plain string literal, with the reason.
 *
 * The template renderer knows one quote character: a placeholder outside `'…'` becomes a whole `'…'` literal and
 * one inside is escaped for it. That is only safe where the shell agrees: bare words and plain single-quoted
 * strings. Inside a double-quoted string `$(…)` still runs, after a backslash the opening quote is taken literally,
 * and in a here-document, a block comment or a `$'…'` string quotes mean something else. So each placeholder's
 * place is read as the shell reads it, and anything but those two places (or a place the renderer reads
 * differently, e.g. after an apostrophe in a comment) is refused before the command runs.
 */
export function unsafePlaceholders(template: string, dialect: ShellDialect): string[] {
  const problems: string[] = [];
  const shell = dialect === 'sh' ? new ShReader(template) : new PowerShellReader(template);
  // the renderer's view: inside a literal after an odd number of quote characters
  let rendererInside = false;
  for (let i = 0; i < template.length; ) {
    const placeholder = PLACEHOLDER.exec(template.slice(i, i + 200));
    if (placeholder) {
      const where = shell.escapePending ? 'escaped' : shell.context;
      const agrees = (where === 'bare' && !rendererInside) || (where === 'single' && rendererInside);
      if (!agrees) problems.push(`{{${placeholder[1]}}} ${describe(where, rendererInside)}`);
      shell.skipPlaceholder();
      i += placeholder[0].length;
      continue;
    }
    if (template[i] === "'") rendererInside = !rendererInside;
    shell.read(i);
    i += 1;
  }
  return problems;
}

const CONTEXT_PROBLEMS: Partial<Record<ShellContext, string>> = {
  double: 'stands inside a double-quoted string, where $(…) still runs',
  'ansi-c string': "stands inside a $'…' string",
  comment: 'stands in a comment',
  'here-document': 'stands in a here-document',
  'here-string': 'stands in a here-string',
};

function describe(where: ShellContext | 'escaped', rendererInside: boolean): string {
  if (where === 'escaped') return 'follows an escape character';
  if (where === 'bare' || where === 'single') {
    // the shell and the renderer disagree (e.g. an apostrophe in a comment, or a quote written as \')
    return `stands ${where === 'bare' ? 'outside' : 'inside'} a quoted string for the shell but ${rendererInside ? 'inside' : 'outside'} one for the template`;
  }
  return CONTEXT_PROBLEMS[where] as string;
}

/** Reads a template character by character as sh does, far enough to know each placeholder's context. */
class ShReader {
  context: ShellContext = 'bare';
  escapePending = false;

  constructor(private readonly text: string) {}

  /** a placeholder's value is one word: it ends an escape and starts no comment */
  skipPlaceholder(): void {
    this.escapePending = false;
  }

  read(i: number): void {
    const char = this.text[i];
    if (this.escapePending) {
      this.escapePending = false;
      return;
    }
    switch (this.context) {
      case 'bare':
        if (char === '\\') this.escapePending = true;
        else if (char === "'") this.context = this.text[i - 1] === '$' ? 'ansi-c string' : 'single';
        else if (char === '"') this.context = 'double';
        else if (char === '#' && (i === 0 || /[\s;&|()]/.test(this.text[i - 1]))) this.context = 'comment';
        // `<<` (not `<<<`) starts a here-document: its body (to a delimiter line) is not read for quotes
        else if (char === '<' && this.text[i + 1] === '<' && this.text[i + 2] !== '<' && this.text[i - 1] !== '<') this.context = 'here-document';
        return;
      case 'single':
        if (char === "'") this.context = 'bare';
        return;
      case 'ansi-c string':
      case 'double':
        if (char === '\\') this.escapePending = true;
        else if (char === (this.context === 'double' ? '"' : "'")) this.context = 'bare';
        return;
      case 'comment':
        if (char === '\n') this.context = 'bare';
        return;
      default:
        // a here-document runs to the end of what is checked: placeholders after `<<` are refused
        return;
    }
  }
}

const PS_SINGLE = /['\u2018\u2019\u201a\u201b]/;
const PS_DOUBLE = /["\u201c\u201d\u201e]/;

/** Reads a template as PowerShell does, far enough to know each placeholder's context. */
class PowerShellReader {
  context: ShellContext = 'bare';
  escapePending = false;
  private inBlockComment = false;
  /** the quote of the here-string being read (`@'…'@` or `@"…"@`) */
  private hereQuote = "'";
  /** characters still to pass over inside a token already recognised (a doubled quote, `#>`, `'@`) */
  private skip = 0;

  constructor(private readonly text: string) {}

  skipPlaceholder(): void {
    this.escapePending = false;
  }

  read(i: number): void {
    const text = this.text;
    const char = text[i];
    if (this.skip > 0) {
      this.skip -= 1;
      return;
    }
    if (this.escapePending) {
      this.escapePending = false;
      return;
    }
    switch (this.context) {
      case 'bare':
        if (char === '`') this.escapePending = true;
        else if (char === '@' && /^@['"][ \t]*\r?\n/.test(text.slice(i, i + 40))) {
          this.context = 'here-string';
          this.hereQuote = text[i + 1];
          this.skip = 1;
        } else if (PS_SINGLE.test(char)) this.context = 'single';
        else if (PS_DOUBLE.test(char)) this.context = 'double';
        else if (char === '<' && text[i + 1] === '#') {
          this.context = 'comment';
          this.inBlockComment = true;
          this.skip = 1;
        } else if (char === '#' && (i === 0 || /[\s;&|(){}]/.test(text[i - 1]))) {
          this.context = 'comment';
          this.inBlockComment = false;
        }
        return;
      case 'single':
        if (PS_SINGLE.test(char)) {
          // a doubled quote is one literal quote; a single one ends the string
          if (PS_SINGLE.test(text[i + 1] ?? '')) this.skip = 1;
          else this.context = 'bare';
        }
        return;
      case 'double':
        if (char === '`') this.escapePending = true;
        else if (PS_DOUBLE.test(char)) {
          if (PS_DOUBLE.test(text[i + 1] ?? '')) this.skip = 1;
          else this.context = 'bare';
        }
        return;
      case 'here-string':
        // ends with the quote and `@` at the start of a line
        if (char === '\n' && text[i + 1] === this.hereQuote && text[i + 2] === '@') {
          this.context = 'bare';
          this.skip = 2;
        }
        return;
      case 'comment':
        if (this.inBlockComment ? char === '#' && text[i + 1] === '>' : char === '\n') {
          this.context = 'bare';
          if (this.inBlockComment) this.skip = 1;
        }
        return;
      default:
        return;
    }
  }
}
