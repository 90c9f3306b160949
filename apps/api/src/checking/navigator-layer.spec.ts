import { buildComparisonLayer, buildNavigatorLayer, tacticShortName } from './navigator-layer';
import { csvCell, executionsCsv } from './executions-csv';

const technique = (over: Record<string, unknown>) => ({
  technique_id: 't1033',
  technique_name: 'System Owner/User Discovery',
  tactic: 'Privilege Escalation',
  executions: 2,
  detected: 1,
  not_detected: 1,
  errors: 0,
  pending: 0,
  no_detections: 0,
  no_usable_detections: 0,
  detection_rate: 0.5,
  detection_latency_p50_ms: 1200,
  detection_latency_p95_ms: 1900,
  detected_exact: 1,
  detected_scoped: 0,
  detected_heuristic: 0,
  detection_rate_exact: 0.5,
  late_detections: 0,
  recheck_only_detections: 0,
  ...over,
});

describe('ATT&CK Navigator layer', () => {
  it('scores each technique by its detection rate, colours it, and names tactics as Navigator does', () => {
    const layer = buildNavigatorLayer({ operation_id: 'op-1', name: null }, [
      technique({}),
      technique({ technique_id: 'T1059', detection_rate: 1 }),
      technique({ technique_id: 'T1082', detection_rate: 0 }),
      technique({ technique_id: 'T1003', detection_rate: null }),
      technique({ technique_id: null }),
    ]);
    expect(layer.techniques.map((t) => [t.techniqueID, t.score, t.color])).toEqual([
      ['T1033', 50, '#ffe766'],
      ['T1059', 100, '#8ec843'],
      ['T1082', 0, '#ff6666'],
      ['T1003', 0, '#cccccc'],
    ]);
    expect(layer.techniques[0].tactic).toBe('privilege-escalation');
    expect(layer.techniques[0].comment).toContain('1 detected, 1 not detected');
    expect(layer.name).toContain('op-1');
    expect(tacticShortName('Command_and Control')).toBe('command-and-control');
  });
});

describe('executions CSV', () => {
  it('quotes separators and quotes, and defuses spreadsheet formulas', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell('-2+3')).toBe(`"'-2+3"`);
    expect(csvCell(null)).toBe('""');
    expect(csvCell(new Date('2024-01-15T10:30:00Z'))).toBe('"2024-01-15T10:30:00.000Z"');
  });

  it('writes a header and one CRLF line per execution', () => {
    const text = executionsCsv([]);
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.split('\r\n')[0].split(',')).toContain('"verdict"');
  });
});

describe('ATT&CK Navigator layer of a comparison', () => {
  const item = (technique_id: string, change: string, regression: boolean, sources: Array<{ source: string; change: string }> = []) => ({
    technique_id,
    change,
    regression,
    latency_a_ms: null,
    latency_b_ms: null,
    sources,
  });

  it('colours techniques regressed, improved or unchanged, and names the sources that lost them', () => {
    const layer = buildComparisonLayer({
      a: 'week-1',
      b: 'week-2',
      items: [
        item('T1033', 'newly_missed', true),
        item('T1059', 'newly_detected', false),
        item('T1082', 'still_detected', true, [{ source: 'crowdstrike', change: 'newly_missed' }]),
        item('T1003', 'still_missed', false),
      ],
    });
    expect(layer.techniques.map((t) => [t.techniqueID, t.score, t.color])).toEqual([
      ['T1033', 0, '#ff6666'],
      ['T1059', 100, '#8ec843'],
      ['T1082', 0, '#ff6666'],
      ['T1003', 50, '#cccccc'],
    ]);
    expect(layer.techniques[2].comment).toContain('newly missed by crowdstrike');
    expect(layer.metadata).toEqual([{ name: 'baseline', value: 'week-1' }, { name: 'run', value: 'week-2' }]);
  });

  it("adds each source's p50/p90 time to detect to a technique's comment", () => {
    const layer = buildNavigatorLayer({ operation_id: 'op-1', name: null }, [technique({ technique_id: 'T1033' })], new Map([['T1033', [{ source: 'splunk', p50_ms: 1000, p90_ms: 4000 }]]]));
    expect(layer.techniques[0].comment).toContain('splunk p50 1000 ms, p90 4000 ms');
  });
});
