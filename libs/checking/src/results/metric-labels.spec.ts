import 'reflect-metadata';
import { platformLabel, techniqueLabel } from './task-processing-metric';

describe('metric labels from Caldera data (issue 12, low)', () => {
  it('names only valid ATT&CK technique ids, else other (unknown when there is none)', () => {
    expect(techniqueLabel('T1033')).toBe('T1033');
    expect(techniqueLabel('T1059.001')).toBe('T1059.001');
    for (const hostile of ['t1033', 'T1033 ', 'T10331', 'T1059.01', 'x'.repeat(5000), 'T1033"} evil{']) {
      expect(techniqueLabel(hostile)).toBe('other');
    }
    for (const absent of ['', null, undefined]) expect(techniqueLabel(absent)).toBe('unknown');
  });

  it('names only known platforms, else other', () => {
    expect(platformLabel(' Windows ')).toBe('windows');
    expect(platformLabel('plan9')).toBe('other');
  });
});
