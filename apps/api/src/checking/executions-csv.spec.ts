import { csvCell } from './executions-csv';

describe('csvCell (issue 12, low)', () => {
  it('quotes every cell, doubling quotes', () => {
    expect(csvCell('host-1')).toBe('"host-1"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell(null)).toBe('""');
    expect(csvCell(42)).toBe('"42"');
    expect(csvCell(new Date('2024-01-15T10:01:00Z'))).toBe('"2024-01-15T10:01:00.000Z"');
  });

  it('defuses a formula character anywhere in a text cell, not only a leading one', () => {
    expect(csvCell('=cmd|whoami')).toBe(`"'=cmd|whoami"`);
    expect(csvCell(' =1+1')).toBe(`"' =1+1"`);
    expect(csvCell('"@SUM(A1)')).toBe(`"'""@SUM(A1)"`);
    expect(csvCell('whoami\r=HYPERLINK("x")')).toBe(`"'whoami\r=HYPERLINK(""x"")"`);
    expect(csvCell('a|b')).toBe(`"'a|b"`);
    expect(csvCell('  -2')).toBe(`"'  -2"`);
    // a dash inside a name, an id or a date is not a formula
    expect(csvCell('00000000-0000-4000-8000-000000000000')).toBe('"00000000-0000-4000-8000-000000000000"');
  });
});
