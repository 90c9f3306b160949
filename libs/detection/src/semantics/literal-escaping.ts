import { PlaceholderContext, UnsafeValueError } from './query-template';

/*
 * Helpers the query languages share to write a reported value as a literal: string escaping alone keeps a value
 * inside its string, but operators still read some strings as patterns (SPL's search and FQL's `*`, KQL's
 * `matches regex`, EQL's `:` and `like`), so each language also neutralises those characters where its operators
 * would read them, or refuses the value when it has no way to.
 */

// eslint-disable-next-line no-control-regex
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;

/** Regex metacharacters of the PCRE, RE2 and .NET families: a backslash before any of them makes it literal. */
export const REGEX_METACHARACTERS = '\\^$.|?*+()[]{}';
/** Lucene's regular expressions (query_string `/…/`, EQL `regex`) reserve these too. */
export const LUCENE_REGEX_METACHARACTERS = '\\^$.|?*+()[]{}"#@&<>~/';

/** `value` with a backslash before each of `characters`. */
export function backslashEscape(value: string, characters: string): string {
  let out = '';
  for (const char of value) out += characters.includes(char) ? `\\${char}` : char;
  return out;
}

/** Throws {@link UnsafeValueError} when `value` holds one of `characters`. */
export function refuseCharacters(value: string, characters: string, why: string): void {
  const found = [...new Set([...value].filter((char) => characters.includes(char)))];
  if (found.length > 0) throw new UnsafeValueError(`holds ${found.map((char) => `"${char}"`).join(', ')}, ${why}`);
}

/**
 * The command of the pipeline segment a placeholder stands in (lowercased first word after the last `|` or `[`
 * outside strings), or `implicit` when the lead has no pipe yet. Strings are `"…"` or `'…'` with backslash escapes.
 */
export function pipelineCommandOf(lead: string, implicit: string): string {
  let segmentStart = -1;
  let quote: string | undefined;
  for (let i = 0; i < lead.length; i += 1) {
    const char = lead[i];
    if (quote) {
      if (char === '\\') i += 1;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '|' || char === '[') segmentStart = i;
  }
  if (segmentStart < 0) return implicit;
  const word = /^\s*([A-Za-z_-]+)/.exec(lead.slice(segmentStart + 1))?.[1];
  return word === undefined ? implicit : word.toLowerCase();
}

/** Whether the lead (the text before the literal) ends with the given operator or call opening. */
export function leadEndsWith(context: PlaceholderContext, pattern: RegExp): boolean {
  return pattern.test(context.lead);
}
