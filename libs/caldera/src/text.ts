/**
 * Caldera's base64 text as plain text. A value that is not base64 of printable UTF-8 is returned as it is: Caldera
 * 5 already decodes commands in its API answers, and a plain command such as `whoami` or `ls -la` is never valid
 * base64 of text (the letters of a word decode to bytes that are not UTF-8).
 */
export function decodeCalderaText(value: string): string {
  const compact = value.trim();
  if (compact === '' || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return value;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(compact, 'base64'));
  } catch {
    return value;
  }
  return hasControlCharacters(text) ? value : text;
}

/** control characters other than tab and newlines: what base64 of binary, not of text, decodes to */
function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f) return true;
  }
  return false;
}

/**
 * Caldera's time stamps as ISO-8601: `2024-01-15T10:30:00Z` (BaseWorld.TIME_FORMAT, UTC) or, from earlier
 * releases, `2024-01-15 10:30:00` (taken as UTC). Undefined when absent or unreadable.
 */
export function calderaTimeOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (!match) return undefined;
  const date = new Date(`${match[1]}T${match[2]}${match[3] ?? 'Z'}`);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
