import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * docker/grafana/purple-dashboard.json: Grafana imports it as is (the sidecar in Kubernetes, provisioning in
 * compose), so it must parse, every panel must query the selectable Prometheus data source, and every metric it
 * queries must be one the apps or RabbitMQ actually expose — a misspelt name shows an empty panel, not an error.
 */
interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  gridPos: { x: number; y: number; w: number; h: number };
}

const DASHBOARD_FILE = join(__dirname, '..', '..', 'docker', 'grafana', 'purple-dashboard.json');

const histogram = (name: string) => [`${name}_bucket`, `${name}_count`, `${name}_sum`];

/** What the apps expose (the /metrics names agreed for issue 6) and what RabbitMQ 3.10+'s rabbitmq_prometheus exposes. */
const KNOWN_METRICS = new Set([
  'purple_messages_consumed_total',
  'purple_messages_acked_total',
  'purple_messages_nacked_total',
  'purple_messages_dead_lettered_total',
  'purple_messages_published_total',
  ...histogram('purple_message_handler_duration_seconds'),
  'purple_http_requests_total',
  ...histogram('purple_http_request_duration_seconds'),
  ...histogram('purple_connector_call_duration_seconds'),
  'purple_connector_failures_total',
  'purple_verdicts_total',
  ...histogram('purple_detection_latency_seconds'),
  ...histogram('purple_task_processing_seconds'),
  ...histogram('purple_source_detection_latency_seconds'),
  ...histogram('purple_source_ingestion_delay_seconds'),
  'purple_webhook_deliveries_total',
  // prom-client's default metrics
  'process_resident_memory_bytes',
  'process_cpu_seconds_total',
  'nodejs_eventloop_lag_p99_seconds',
  // rabbitmq_prometheus: /metrics/detailed (queue_coarse_metrics, queue_consumer_count) and /metrics
  'rabbitmq_detailed_queue_messages_ready',
  'rabbitmq_detailed_queue_messages_unacked',
  'rabbitmq_detailed_queue_messages',
  'rabbitmq_detailed_queue_consumers',
  'rabbitmq_global_messages_dead_lettered_expired_total',
  'rabbitmq_global_messages_dead_lettered_rejected_total',
  'rabbitmq_process_resident_memory_bytes',
  'rabbitmq_resident_memory_limit_bytes',
  'rabbitmq_disk_space_available_bytes',
  'rabbitmq_auth_attempts_total',
  'rabbitmq_auth_attempts_failed_total',
  'rabbitmq_connections_opened_total',
  'rabbitmq_connections_closed_total',
]);

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects (functions, keywords, labels, numbers and variables left out). */
function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ') // label values and string arguments
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range selectors, including Grafana's $__rate_interval
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // grouping label lists
    .replace(/\$\w+/g, ' ')
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = stripped.slice((match.index ?? 0) + match[0].length);
    if (/^\s*\(/.test(rest) || PROMQL_WORDS.has(match[0].toLowerCase())) continue; // a function call or keyword
    names.add(match[0]);
  }
  return [...names];
}

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'));
  const panels: Panel[] = dashboard.panels;
  const queryPanels = panels.filter((p) => p.type !== 'row');
  const expressions = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));

  it('is an importable dashboard: uid, title, a numeric schemaVersion and a Prometheus data source variable', () => {
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.title).toEqual(expect.any(String));
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
  });

  it('gives every panel the selectable data source and at least one query on it', () => {
    expect(queryPanels.length).toBeGreaterThan(10);
    const problems: string[] = [];
    for (const panel of queryPanels) {
      if (panel.datasource?.type !== 'prometheus' || panel.datasource.uid !== '${datasource}') problems.push(`${panel.title}: data source`);
      const targets = panel.targets ?? [];
      if (targets.length === 0) problems.push(`${panel.title}: no query`);
      if (new Set(targets.map((t) => t.refId)).size !== targets.length) problems.push(`${panel.title}: repeated refId`);
      for (const target of targets) {
        if (!target.expr?.trim()) problems.push(`${panel.title} ${target.refId}: empty expression`);
        if (target.datasource?.uid !== '${datasource}') problems.push(`${panel.title} ${target.refId}: data source`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('has unique panel ids and a layout inside the 24-column grid without overlaps', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const problems: string[] = [];
    const cells = new Map<string, string>();
    for (const { title, gridPos } of panels) {
      if (gridPos.x < 0 || gridPos.w <= 0 || gridPos.x + gridPos.w > 24) problems.push(`${title}: outside the grid`);
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++) {
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
          const other = cells.get(`${x},${y}`);
          if (other) problems.push(`${title} overlaps ${other}`);
          cells.set(`${x},${y}`, title);
        }
      }
    }
    expect([...new Set(problems)]).toEqual([]);
  });

  it('queries only metrics that exist', () => {
    const unknown = expressions.flatMap(metricNamesIn).filter((name) => !KNOWN_METRICS.has(name));
    expect(unknown).toEqual([]);
  });

  it('shows what issue 6 asks for: queue depths, verdicts, detections and latency per technique, webhook health', () => {
    const uses = (pattern: RegExp) => expressions.some((e) => pattern.test(e));
    expect(uses(/rabbitmq_detailed_queue_messages_ready/)).toBe(true);
    expect(uses(/rate\(purple_messages_consumed_total/)).toBe(true);
    expect(uses(/by \(verdict\) \(increase\(purple_verdicts_total/)).toBe(true);
    expect(uses(/by \(technique_id\) \(rate\(purple_detection_latency_seconds_count/)).toBe(true);
    expect(uses(/histogram_quantile\(0\.95, sum by \(technique_id, le\) \(rate\(purple_detection_latency_seconds_bucket/)).toBe(true);
    expect(uses(/by \(outcome\) \(rate\(purple_webhook_deliveries_total/)).toBe(true);
    expect(uses(/purple_http_request_duration_seconds_bucket/)).toBe(true);
    expect(uses(/purple_message_handler_duration_seconds_bucket/)).toBe(true);
  });
});

describe('metricNamesIn', () => {
  it('finds the selected metrics and skips functions, keywords, labels, numbers and variables', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.95, sum by (app, le) (rate(purple_x_bucket{namespace=~"$namespace", queue!~".+[.]dlq"}[$__rate_interval]))) / on (app) group_left() purple_y > 1e9',
      ).sort(),
    ).toEqual(['purple_x_bucket', 'purple_y']);
  });
});
