/**
 * Parses the text Python's `str()` gives for a list or dict of plain values: `[{'a': 1, 'b': True, 'c': None}]`.
 *
 * Caldera's REST API dumps an ability's `additional_info` with marshmallow's `Dict(values=String())`, which turns a
 * value written in YAML as a list (a natural way to write detections) into that text rather than JSON. Strings
 * (single or double quoted, with Python's escapes), numbers, True/False/None, lists, tuples and dicts are read;
 * anything else throws.
 */
export function parsePythonLiteral(text: string): unknown {
  const parser = new LiteralParser(text);
  const value = parser.value();
  parser.end();
  return value;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v' };

class LiteralParser {
  private at = 0;

  constructor(private readonly text: string) {}

  value(): unknown {
    this.skipSpace();
    const char = this.text[this.at];
    if (char === '[') return this.sequence('[', ']');
    if (char === '(') return this.sequence('(', ')');
    if (char === '{') return this.dict();
    if (char === "'" || char === '"') return this.string(char);
    const word = /^(True|False|None|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(this.text.slice(this.at))?.[1];
    if (word === undefined) this.fail('a value');
    this.at += word.length;
    if (word === 'True') return true;
    if (word === 'False') return false;
    if (word === 'None') return null;
    return Number(word);
  }

  end(): void {
    this.skipSpace();
    if (this.at < this.text.length) this.fail('the end');
  }

  private sequence(open: string, close: string): unknown[] {
    this.expect(open);
    const items: unknown[] = [];
    while (!this.next(close)) {
      items.push(this.value());
      if (!this.next(',')) {
        this.expect(close);
        break;
      }
    }
    return items;
  }

  private dict(): Record<string, unknown> {
    this.expect('{');
    const out: Record<string, unknown> = {};
    while (!this.next('}')) {
      const key = this.value();
      if (typeof key !== 'string' && typeof key !== 'number') this.fail('a string or number key');
      this.expect(':');
      out[String(key)] = this.value();
      if (!this.next(',')) {
        this.expect('}');
        break;
      }
    }
    return out;
  }

  private string(quote: string): string {
    this.at++;
    let out = '';
    while (this.at < this.text.length) {
      const char = this.text[this.at++];
      if (char === quote) return out;
      if (char !== '\\') {
        out += char;
        continue;
      }
      const escape = this.text[this.at++];
      if (escape === 'x' || escape === 'u') {
        const digits = this.text.slice(this.at, this.at + (escape === 'x' ? 2 : 4));
        if (!/^[0-9a-fA-F]+$/.test(digits) || digits.length !== (escape === 'x' ? 2 : 4)) this.fail('a hex escape');
        out += String.fromCharCode(parseInt(digits, 16));
        this.at += digits.length;
      } else if (escape !== undefined && escape in ESCAPES) {
        out += ESCAPES[escape];
      } else {
        // Python keeps an unknown escape as it is
        out += `\\${escape ?? ''}`;
      }
    }
    this.fail(`a closing ${quote}`);
  }

  /** consumes `token` (after spaces) when it is next */
  private next(token: string): boolean {
    this.skipSpace();
    if (this.text[this.at] !== token) return false;
    this.at++;
    return true;
  }

  private expect(token: string): void {
    if (!this.next(token)) this.fail(`"${token}"`);
  }

  private skipSpace(): void {
    while (/\s/.test(this.text[this.at] ?? '')) this.at++;
  }

  private fail(expected: string): never {
    throw new SyntaxError(`expected ${expected} at position ${this.at}`);
  }
}
