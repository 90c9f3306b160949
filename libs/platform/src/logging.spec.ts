import { prettyLogs } from './logging';

describe('prettyLogs', () => {
  it('follows LOG_FORMAT when it is set, whatever stdout is', () => {
    expect(prettyLogs('pretty', false)).toBe(true);
    expect(prettyLogs('json', true)).toBe(false);
  });

  it('is pretty for a terminal and JSON for a pipe when LOG_FORMAT is unset', () => {
    expect(prettyLogs(undefined, true)).toBe(true);
    expect(prettyLogs(undefined, false)).toBe(false);
  });
});
