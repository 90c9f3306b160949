import { TechniqueSummary } from '@purple/checking';

/** ATT&CK Navigator layer format 4.5 (https://github.com/mitre-attack/attack-navigator/blob/master/layers/). */
export interface NavigatorLayer {
  name: string;
  versions: { attack: string; navigator: string; layer: string };
  domain: 'enterprise-attack';
  description: string;
  sorting: number;
  hideDisabled: boolean;
  techniques: Array<{
    techniqueID: string;
    tactic?: string;
    score: number;
    color: string;
    comment: string;
    enabled: boolean;
    metadata: Array<{ name: string; value: string }>;
    showSubtechniques: boolean;
  }>;
  gradient: { colors: string[]; minValue: number; maxValue: number };
  legendItems: Array<{ label: string; color: string }>;
  metadata: Array<{ name: string; value: string }>;
}

const RED = '#ff6666';
const AMBER = '#ffe766';
const GREEN = '#8ec843';
const GREY = '#cccccc';

/** Navigator names tactics by their short names: `Privilege Escalation` → `privilege-escalation`. */
export const tacticShortName = (tactic: string) =>
  tactic
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '-');

/**
 * One operation's coverage as a layer users load into ATT&CK Navigator: each technique scored by its detection
 * rate (0–100), red when nothing was seen, green when everything was; techniques still being checked or that could
 * not be checked are grey, with the counts in the comment.
 */
export function buildNavigatorLayer(
  operation: { operation_id: string; name: string | null },
  techniques: TechniqueSummary[],
  /** per technique id: each source's time to detect, for the comment */
  sourceLatency: Map<string, Array<{ source: string; p50_ms: number; p90_ms: number }>> = new Map(),
): NavigatorLayer {
  const scored = techniques.filter((t): t is TechniqueSummary & { technique_id: string } => !!t.technique_id);
  return {
    name: `Detection coverage: ${operation.name ?? operation.operation_id}`,
    versions: { attack: '16', navigator: '5.1.0', layer: '4.5' },
    domain: 'enterprise-attack',
    description: `Blue-team detection of Caldera operation ${operation.operation_id}: score = detected ÷ (detected + not detected) × 100.`,
    sorting: 3,
    hideDisabled: false,
    techniques: scored.map((t) => {
      const score = t.detection_rate === null ? 0 : Math.round(t.detection_rate * 100);
      return {
        techniqueID: t.technique_id.toUpperCase(),
        ...(t.tactic ? { tactic: tacticShortName(t.tactic) } : {}),
        score,
        color: t.detection_rate === null ? GREY : score >= 100 ? GREEN : score === 0 ? RED : AMBER,
        comment:
          `${t.detected} detected, ${t.not_detected} not detected, ${t.errors} errors, ${t.pending} pending` +
          (t.detection_latency_p50_ms === null ? '' : `; latency p50 ${t.detection_latency_p50_ms} ms`) +
          (sourceLatency.get(t.technique_id) ?? []).map((s) => `; ${s.source} p50 ${s.p50_ms} ms, p90 ${s.p90_ms} ms`).join(''),
        enabled: true,
        metadata: [
          { name: 'executions', value: String(t.executions) },
          { name: 'detected', value: String(t.detected) },
          { name: 'not detected', value: String(t.not_detected) },
          ...(t.detection_latency_p95_ms === null ? [] : [{ name: 'latency p95 (ms)', value: String(t.detection_latency_p95_ms) }]),
        ],
        showSubtechniques: true,
      };
    }),
    gradient: { colors: [RED, AMBER, GREEN], minValue: 0, maxValue: 100 },
    legendItems: [
      { label: 'not detected', color: RED },
      { label: 'partly detected', color: AMBER },
      { label: 'detected', color: GREEN },
      { label: 'not decided', color: GREY },
    ],
    metadata: [{ name: 'operation', value: operation.operation_id }],
  };
}

/** A comparison's technique-level change, for the layer. */
export interface ComparedTechnique {
  technique_id: string | null;
  change: string;
  regression: boolean;
  latency_a_ms: number | null;
  latency_b_ms: number | null;
  sources: Array<{ source: string; change: string }>;
}

/**
 * Two runs compared as a layer: a technique is regressed (red, score 0) when any of its matches regressed,
 * improved (green, score 100) when one was newly detected and none regressed, else unchanged (grey, score 50).
 */
export function buildComparisonLayer(comparison: { a: string; b: string; items: ComparedTechnique[] }): NavigatorLayer {
  const byTechnique = new Map<string, ComparedTechnique[]>();
  for (const item of comparison.items) {
    if (!item.technique_id) continue;
    const id = item.technique_id.toUpperCase();
    byTechnique.set(id, [...(byTechnique.get(id) ?? []), item]);
  }
  return {
    name: `Detection changes: ${comparison.a} → ${comparison.b}`,
    versions: { attack: '16', navigator: '5.1.0', layer: '4.5' },
    domain: 'enterprise-attack',
    description: `Run ${comparison.b} against the baseline ${comparison.a}: red regressed, green improved, grey unchanged.`,
    sorting: 3,
    hideDisabled: false,
    techniques: [...byTechnique.entries()].map(([techniqueID, items]) => {
      const regressed = items.some((i) => i.regression);
      const improved = !regressed && items.some((i) => i.change === 'newly_detected' || i.sources.some((s) => s.change === 'newly_detected'));
      const lost = items.flatMap((i) => i.sources.filter((s) => s.change === 'newly_missed').map((s) => s.source));
      return {
        techniqueID,
        score: regressed ? 0 : improved ? 100 : 50,
        color: regressed ? RED : improved ? GREEN : GREY,
        comment:
          `${regressed ? 'regressed' : improved ? 'improved' : 'unchanged'}: ${[...new Set(items.map((i) => i.change))].join(', ')}` +
          (lost.length > 0 ? `; newly missed by ${[...new Set(lost)].join(', ')}` : '') +
          items
            .filter((i) => i.latency_a_ms !== null && i.latency_b_ms !== null)
            .map((i) => `; latency ${i.latency_a_ms} → ${i.latency_b_ms} ms`)
            .join(''),
        enabled: true,
        metadata: [{ name: 'change', value: regressed ? 'regressed' : improved ? 'improved' : 'unchanged' }],
        showSubtechniques: true,
      };
    }),
    gradient: { colors: [RED, GREY, GREEN], minValue: 0, maxValue: 100 },
    legendItems: [
      { label: 'regressed', color: RED },
      { label: 'unchanged', color: GREY },
      { label: 'improved', color: GREEN },
    ],
    metadata: [
      { name: 'baseline', value: comparison.a },
      { name: 'run', value: comparison.b },
    ],
  };
}
