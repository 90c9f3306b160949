// Writes docker/prometheus/alerts.yaml, the PrometheusRule for the Prometheus Operator, from the plain rule file
// docker/prometheus/purple.rules.yaml (the source, which promtool tests). With --check it only reports whether the
// committed alerts.yaml is up to date (exit 1 when not), which is what CI runs.
//   node tools/ci/sync-alerts.mjs [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Document, parseDocument } from 'yaml';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RULES_FILE = join(REPO_ROOT, 'docker/prometheus/purple.rules.yaml');
const PROMETHEUS_RULE_FILE = join(REPO_ROOT, 'docker/prometheus/alerts.yaml');

const HEADER = `# GENERATED from purple.rules.yaml by \`node tools/ci/sync-alerts.mjs\`: edit that file, then run the script.
# The same alert rules as a PrometheusRule for the Prometheus Operator (docker/k8s/base includes it).
`;

/** The PrometheusRule text for a plain rule file's text; rules, comments and block scalars are carried over. */
export function toPrometheusRule(rulesText) {
  const rules = parseDocument(rulesText);
  if (rules.errors.length > 0) throw new Error(`purple.rules.yaml: ${rules.errors[0].message}`);
  const groups = rules.get('groups', true);
  if (!groups) throw new Error('purple.rules.yaml has no `groups`');
  const resource = new Document({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'purple-alerts', labels: { 'app.kubernetes.io/name': 'purple-alerts' } },
    spec: {},
  });
  resource.setIn(['spec', 'groups'], groups);
  return HEADER + resource.toString({ lineWidth: 0 });
}

function main(argv) {
  const check = argv.includes('--check');
  const expected = toPrometheusRule(readFileSync(RULES_FILE, 'utf8'));
  const name = relative(REPO_ROOT, PROMETHEUS_RULE_FILE);
  if (check) {
    let current = '';
    try {
      current = readFileSync(PROMETHEUS_RULE_FILE, 'utf8');
    } catch {
      // a missing file is simply out of date
    }
    if (current !== expected) {
      console.error(`${name} is out of date with purple.rules.yaml: run \`node tools/ci/sync-alerts.mjs\``);
      return 1;
    }
    console.log(`${name} matches purple.rules.yaml`);
    return 0;
  }
  writeFileSync(PROMETHEUS_RULE_FILE, expected);
  console.log(`wrote ${name}`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
