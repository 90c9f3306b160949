import { SPLUNK_QUERY_SYNTAX } from '../connectors/splunk/splunk-connector';
import { renderQueryTemplate, TemplateError } from './query-template';

describe('renderQueryTemplate (Splunk syntax)', () => {
  const render = (template: string, values: Record<string, string | undefined>) =>
    renderQueryTemplate(template, values, SPLUNK_QUERY_SYNTAX);

  it('inserts a value outside quotes as a whole quoted literal', () => {
    expect(render('index=main host={{host}} user={{ user }}', { host: 'web-01', user: 'admin' })).toBe(
      'index=main host="web-01" user="admin"',
    );
  });

  it('escapes a value inside a quoted string of the template, without adding quotes', () => {
    expect(render('CommandLine="*{{marker}}*"', { marker: 'abc"def' })).toBe('CommandLine="*abc\\"def*"');
  });

  it('keeps a value from closing the string and adding commands', () => {
    const hostile = 'x" | delete | search "';
    const rendered = render('host={{host}} | stats count', { host: hostile });
    expect(rendered).toBe('host="x\\" | delete | search \\"" | stats count');
    // the only unescaped quotes are the literal's own two
    expect(rendered.replace(/\\./g, '').match(/"/g)).toHaveLength(2);
  });

  it('escapes backslashes and turns control characters into spaces', () => {
    expect(render('path={{command}}', { command: 'C:\\Windows\\x\nsearch |' })).toBe('path="C:\\\\Windows\\\\x search |"');
  });

  it('tracks escaped quotes in the template when deciding whether a placeholder is inside a string', () => {
    expect(render('msg="say \\"hi\\" {{user}}" host={{host}}', { user: 'bob', host: 'h' })).toBe(
      'msg="say \\"hi\\" bob" host="h"',
    );
  });

  it('names every placeholder without a value', () => {
    expect(() => render('{{host}} {{user}} {{tenant}}', { host: 'h' })).toThrow(TemplateError);
    expect(() => render('{{host}} {{user}} {{tenant}}', { host: 'h' })).toThrow('no value for placeholders {{user}}, {{tenant}}');
  });

  it('leaves text that is not a placeholder alone', () => {
    expect(render('eval x="{{" | where y={{ 1 }}', {})).toBe('eval x="{{" | where y={{ 1 }}');
  });
});
