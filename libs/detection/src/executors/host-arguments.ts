import { backslashEscape, REGEX_METACHARACTERS } from '../semantics/literal-escaping';
import { PlaceholderContext, UnsafeValueError } from '../semantics/query-template';

/*
 * What a host command's program makes of a placeholder value. Quoting keeps a value one argument (one shell word),
 * but the program may still read it as an option (a leading `-`) or as a pattern (`grep` without `-F`, PowerShell's
 * `-match`, `-like`, `Select-String`). So, before it is quoted:
 * - a value that starts with `-` and stands alone as an argument is refused unless `--` (end of options) or `-e`
 *   comes before it in the command: no quoting can stop a program from reading it as an option;
 * - a `grep` pattern (the argument of `-e`/`--regexp`, else the first operand) is escaped for the grep's regex flavour
 *   (basic, `-E`, `-P`), unless the grep is `-F` (fixed strings), where it is literal already;
 * - in PowerShell, after `-like`/`-notlike` the wildcard characters `* ? [ ]` and `` ` `` get a backtick, after
 *   `-match`/`-notmatch`/`-replace`/`-split` and as a `Select-String` pattern (without `-SimpleMatch`) regex
 *   metacharacters get a backslash, as `[regex]::Escape` does. A quoted value is never a PowerShell parameter.
 */

/** how the command line is read: `sh` (a shell), `argv` (the local executor: one command, no shell), `powershell` */
export type HostDialect = 'sh' | 'argv' | 'powershell';

const GREP = /^(?:[bxz]?[ef]?grep|zegrep|zfgrep)$/;
/** grep's short options that take the rest of their word, or the next word, as their argument */
const GREP_ARGUMENT_OPTIONS = 'efmABCdD';
/** the options after which the next argument is the value of the option, not an option itself */
const OPTIONS_TAKING_A_VALUE = ['-e', '--regexp'];
const BASIC_REGEX_METACHARACTERS = '\\.[]*^$';
const DOTNET_REGEX_METACHARACTERS = `${REGEX_METACHARACTERS}#`;
/** programs that run the command after them: the command is what follows */
const WRAPPERS = ['sudo', 'command', 'exec', 'nice', 'nohup'];

/** The value as the program must receive it to read it literally; throws {@link UnsafeValueError} when it cannot. */
export function hostLiteral(value: string, context: PlaceholderContext | undefined, dialect: HostDialect): string {
  if (context === undefined) return value;
  return dialect === 'powershell' ? powershellLiteral(value, context) : posixLiteral(value, context, dialect);
}

function posixLiteral(value: string, context: PlaceholderContext, dialect: 'sh' | 'argv'): string {
  const lead = dialect === 'sh' ? context.lead.slice(commandStart(context.lead)) : context.lead;
  const after = dialect === 'sh' ? context.after.slice(0, commandEnd(context.after)) : context.after;
  const words = wordsOf(lead);
  const partial = /\s$/.test(lead) || lead === '' ? '' : (words.pop() ?? '');
  const startsArgument = unquoted(partial) + context.inside === '';
  while (words.length > 1 && WRAPPERS.includes(basename(words[0]))) words.shift();
  const program = basename(words[0] ?? '');
  const previous = words[words.length - 1];
  const endOfOptions = words.slice(1).includes('--');
  if (startsArgument && value.startsWith('-') && !endOfOptions && !OPTIONS_TAKING_A_VALUE.includes(previous ?? '')) {
    throw new UnsafeValueError(`starts with "-", which ${program || 'the program'} would read as an option: put -- (or -e) before the placeholder`);
  }
  if (!GREP.test(program)) return value;
  const options = [...words.slice(1), ...wordsOf(after)].filter((word) => word.startsWith('-') && word !== '--');
  const flags = new Set<string>();
  for (const option of options) {
    if (option.startsWith('--')) flags.add(option.replace(/=.*$/, ''));
    else {
      for (const char of option.slice(1)) {
        flags.add(`-${char}`);
        if (GREP_ARGUMENT_OPTIONS.includes(char)) break;
      }
    }
  }
  const fixed = /^[bxz]?fgrep$|^zfgrep$/.test(program) || flags.has('-F') || flags.has('--fixed-strings');
  // the placeholder may stand in an option word (`--regexp={{marker}}`) or in an operand
  const word = unquoted(partial);
  const pattern = word.startsWith('-') ? /^(?:--regexp=|-e)/.test(word) : isGrepPattern(words, previous, flags);
  if (fixed || !pattern) return value;
  const perl = flags.has('-P') || flags.has('--perl-regexp');
  const extended = /egrep$/.test(program) || flags.has('-E') || flags.has('--extended-regexp');
  return backslashEscape(value, perl || extended ? REGEX_METACHARACTERS : BASIC_REGEX_METACHARACTERS);
}

/** The placeholder is grep's pattern: the argument of `-e`, else (no `-e`/`-f` at all) the first operand. */
function isGrepPattern(words: string[], previous: string | undefined, flags: Set<string>): boolean {
  if (previous !== undefined && OPTIONS_TAKING_A_VALUE.includes(previous)) return true;
  if (['-e', '--regexp', '-f', '--file'].some((flag) => flags.has(flag))) return false;
  let operands = 0;
  let optionsOver = false;
  for (let i = 1; i < words.length; i += 1) {
    const word = words[i];
    if (!optionsOver && word === '--') optionsOver = true;
    else if (!optionsOver && word.startsWith('-') && word.length > 1) {
      // `-m 5`, `-A 3`: the option's argument is the next word
      const last = word.startsWith('--') ? '' : word[word.length - 1];
      if (last !== '' && GREP_ARGUMENT_OPTIONS.includes(last) && word.length === 2) i += 1;
    } else operands += 1;
  }
  return operands === 0;
}

function powershellLiteral(value: string, context: PlaceholderContext): string {
  const lead = context.lead.trimEnd();
  if (/-[ci]?(?:not)?like$/i.test(lead)) return value.replace(/[`*?[\]]/g, '`$&');
  if (/-[ci]?(?:not)?match$|-[ci]?replace$|-[ci]?split$/i.test(lead)) return backslashEscape(value, DOTNET_REGEX_METACHARACTERS);
  const segment = context.lead.slice(commandStart(context.lead)) + ' ' + context.after.slice(0, commandEnd(context.after));
  if (/(?:^|[\s(])(?:Select-String|sls)(?:\s|$)/i.test(segment) && !/\s-SimpleMatch\b/i.test(segment)) {
    const previous = wordsOf(context.lead.slice(commandStart(context.lead))).pop() ?? '';
    if (!/^-(?:Path|LiteralPath|Include|Exclude|Encoding|Context|Culture)$/i.test(previous)) return backslashEscape(value, DOTNET_REGEX_METACHARACTERS);
  }
  return value;
}

const SEPARATORS = ';|&\n(){}`';

/** Where the simple command the text ends in starts: after the last separator outside quotes. */
function commandStart(text: string): number {
  let start = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i];
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"') i += 1;
    } else if (char === "'" || char === '"') quote = char;
    else if (char === '\\') i += 1;
    else if (SEPARATORS.includes(char)) start = i + 1;
  }
  return start;
}

/** Where the simple command the text starts in ends: the first separator outside quotes. */
function commandEnd(text: string): number {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i];
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === "'" || char === '"') quote = char;
    else if (SEPARATORS.includes(char)) return i;
  }
  return text.length;
}

/** Whitespace-separated words with their quote characters removed (enough to read program names and options). */
function wordsOf(text: string): string[] {
  return text
    .trim()
    .split(/\s+/)
    .filter((word) => word !== '')
    .map(unquoted);
}

function unquoted(word: string): string {
  return word.replace(/['"]/g, '');
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
