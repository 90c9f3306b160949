import type { QuerySyntax } from '../../semantics/query-template';
import { CONTROL_CHARACTERS } from '../../semantics/literal-escaping';
import { hostLiteral } from '../host-arguments';

/*
 * The local executor's command line: a program and its arguments, with no shell in between.
 *
 * - Whitespace (space, tab, line breaks) separates arguments.
 * - A double-quoted string is part of one argument, whitespace included; inside it `\"` is a quote and `\\` a
 *   backslash, and a backslash before any other character is kept as it is (so `"a\.b"` stays `a\.b`).
 * - Quoted and unquoted parts that touch form one argument (`--name="a b"` → `--name=a b`); `""` is an empty one.
 * - Nothing else means anything: `$`, backticks, `;`, `|`, `&&`, `*`, `<`, `>` and a backslash outside quotes are
 *   plain characters of the argument they stand in.
 */

/** A command line that cannot be split (an unclosed quote). */
export class CommandLineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandLineError';
  }
}

const WHITESPACE = /[ \t\n\r\v\f]/;

/** Splits a command line into argv by the rules above; throws {@link CommandLineError} on an unclosed quote. */
export function splitCommandLine(line: string): string[] {
  const args: string[] = [];
  let current = '';
  // an argument has begun even if it is still empty (after `""`)
  let started = false;
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const char = line[i];
    if (quoted) {
      if (char === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) {
        current += line[i + 1];
        i += 1;
      } else if (char === '"') {
        quoted = false;
      } else {
        current += char;
      }
      continue;
    }
    if (WHITESPACE.test(char)) {
      if (started) args.push(current);
      current = '';
      started = false;
    } else if (char === '"') {
      quoted = true;
      started = true;
    } else {
      current += char;
      started = true;
    }
  }
  if (quoted) throw new CommandLineError('the command line has an unclosed double quote');
  if (started) args.push(current);
  return args;
}

/**
 * Placeholder values as quoted arguments of {@link splitCommandLine}: `\` and `"` backslash-escaped, so a value is
 * always exactly one argument (or part of the one it stands in), whatever it holds. Control characters become
 * spaces: an argument cannot hold a NUL, and a newline would turn a `grep` pattern into several patterns. A leading
 * `-` and a grep pattern are made literal first ({@link hostLiteral}).
 */
export const LOCAL_COMMAND_SYNTAX: QuerySyntax = {
  quote: '"',
  escapeChar: '\\',
  escape: (value, context) => hostLiteral(value, context, 'argv').replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(CONTROL_CHARACTERS, ' '),
  formatTime: (time) => time.toISOString(),
};
