import { formatScopes, isScope, parseScopes } from './scopes';

describe('scopes', () => {
  it('parse from the space-separated form, dropping unknown words and duplicates', () => {
    expect(parseScopes('checking:read  admin bus admin root')).toEqual(['admin', 'bus', 'checking:read']);
    expect(parseScopes('')).toEqual([]);
    expect(parseScopes(null)).toEqual([]);
  });

  it('format in a fixed order', () => {
    expect(formatScopes(['checking:read', 'admin'])).toBe('admin checking:read');
  });

  it('know the three scopes', () => {
    expect(['admin', 'bus', 'checking:read'].every(isScope)).toBe(true);
    expect(isScope('Admin')).toBe(false);
  });
});
