import { pythonStr } from './fixtures/python-text';
import { parsePythonLiteral } from './python-literal';

describe('parsePythonLiteral (Caldera serves a YAML list in additional_info as Python text)', () => {
  it('reads what Python prints for a list of detections', () => {
    const text =
      "[{'detection_type': 'api', 'detection_platform': 'siem', 'detection_config': {'query': 'index=main user=\"adm\"', " +
      "'connector': 'splunk', 'window_after_seconds': 600, 'ratio': 0.5, 'exact': True, 'marker': None}, 'max_retries': 2}]";
    expect(parsePythonLiteral(text)).toEqual([
      {
        detection_type: 'api',
        detection_platform: 'siem',
        detection_config: { query: 'index=main user="adm"', connector: 'splunk', window_after_seconds: 600, ratio: 0.5, exact: true, marker: null },
        max_retries: 2,
      },
    ]);
  });

  it("keeps Python's string escapes, both quote styles, tuples and trailing commas", () => {
    expect(parsePythonLiteral(`("it's", 'a\\'b', 'tab\\there', 'nl\\n', '\\x41\\u00e9', -3, 1e3,)`)).toEqual([
      "it's",
      "a'b",
      'tab\there',
      'nl\n',
      'Aé',
      -3,
      1000,
    ]);
  });

  it('reads back whatever a Python str() of JSON-like values gives', () => {
    const value = [{ command: "grep 'sudo' /var/log/auth.log", nested: { list: [1, 'two', false, null] }, quote: 'say "hi"' }];
    expect(parsePythonLiteral(pythonStr(value))).toEqual(value);
  });

  it.each(['', "[{'a': 1}", "{'a' 1}", "['a'] extra", "[open('x')]", "'unterminated"])('refuses %j', (text) => {
    expect(() => parsePythonLiteral(text)).toThrow(SyntaxError);
  });
});
