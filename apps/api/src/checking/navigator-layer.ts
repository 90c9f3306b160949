import { TechniqueSummary } from './checking-read.repository';

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
export function buildNavigatorLayer(operation: { operation_id: string; name: string | null }, techniques: TechniqueSummary[]): NavigatorLayer {
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
          (t.detection_latency_p50_ms === null ? '' : `; latency p50 ${t.detection_latency_p50_ms} ms`),
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
