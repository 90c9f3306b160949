#!/usr/bin/env bash
# Validates the deployment artefacts offline: renders the Kubernetes base and production overlay with kustomize and
# checks them against the Kubernetes schemas and the project's rules, tests the alert rules with promtool, checks
# the Grafana dashboard and the compose file. Idempotent; installs what it lacks (promtool from Debian's
# `prometheus` package, the validators' npm packages into tools/ci/node_modules). Needs the root `npm ci` first.
#   tools/ci/validate-deploy.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf '\n== %s\n' "$*"; }
fail() { printf 'validate-deploy: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else return 1
  fi
}

work=$(mktemp -d)
created_env=""
cleanup() {
  rm -rf "$work"
  # only the .env this script made for `docker compose config`
  if [ -n "$created_env" ]; then rm -f .env; fi
}
trap cleanup EXIT

log "tools"
# kustomize: kubectl's built-in one (Debian's kubernetes-client is 1.20, whose kustomize v2 lacks `labels` and
# `replacements`), else a standalone kustomize v5
if command -v kubectl >/dev/null 2>&1 && kubectl kustomize --help >/dev/null 2>&1; then
  render() { kubectl kustomize "$1"; }
  echo "kustomize: $(kubectl version --client 2>/dev/null | grep -i kustomize || echo 'built into kubectl')"
elif command -v kustomize >/dev/null 2>&1; then
  render() { kustomize build "$1"; }
  echo "kustomize: $(kustomize version)"
else
  fail "needs kubectl (>= 1.27) or kustomize (>= 5) to render docker/k8s"
fi
if ! command -v promtool >/dev/null 2>&1; then
  echo "installing promtool (Debian package prometheus)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null \
    || { as_root apt-get update >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null; } \
    || fail "cannot install promtool: apt-get install prometheus failed"
fi
echo "promtool: $(promtool --version 2>&1 | head -1)"
# the validators' packages, pinned by tools/ci/package-lock.json; reinstalled only when the lock file changes
lock_stamp=tools/ci/node_modules/.installed-from-lock
if ! cmp -s tools/ci/package-lock.json "$lock_stamp" 2>/dev/null; then
  # the kubernetes-models packages declare node >= 22 but their validators run on Node 20: keep npm quiet about it
  npm ci --prefix tools/ci --no-audit --no-fund --loglevel=error
  cp tools/ci/package-lock.json "$lock_stamp"
fi
echo "validators: $(cd tools/ci && node -p "Object.entries(require('./package.json').dependencies).map(([n, v]) => n + '@' + v).join(', ')")"

log "app roles from libs/topology"
npx ts-node -P tools/tsconfig.json tools/ci/app-roles.ts > "$work/roles.json"
node -p "require('$work/roles.json').apps.map((a) => a.app).join(', ')"

log "Kubernetes: render and validate"
render docker/k8s/base > "$work/base.yaml"
render docker/k8s/overlays/production > "$work/production.yaml"
common=(--roles "$work/roles.json" --rules docker/prometheus/purple.rules.yaml --dashboard docker/grafana/purple-dashboard.json)
status=0
node tools/ci/validate-manifests.mjs "${common[@]}" "$work/base.yaml" || status=1
node tools/ci/validate-manifests.mjs "${common[@]}" --namespace purple --pinned-images "$work/production.yaml" || status=1
[ "$status" = 0 ] || fail "the Kubernetes manifests have problems (above)"

log "Prometheus: alert rules"
node tools/ci/sync-alerts.mjs --check
promtool check rules docker/prometheus/purple.rules.yaml
promtool test rules docker/prometheus/alerts.test.yaml
promtool check config docker/prometheus/prometheus.yml

log "Grafana: dashboard"
npx jest -c tools/jest.config.ts tools/ci/grafana-dashboard.spec.ts

log "compose"
if docker compose version >/dev/null 2>&1; then
  # the apps' env_file ../.env must exist for compose to resolve the file
  if [ ! -e .env ]; then cp .env.example .env && created_env=yes; fi
  docker compose -f docker/compose.yaml config --quiet && echo "docker compose config: valid"
  docker compose -f docker/compose.yaml --profile monitoring config --quiet && echo "docker compose config (monitoring profile): valid"
else
  echo "no docker compose plugin here: checking docker/compose.yaml with the YAML parser only"
fi
node tools/ci/check-compose.mjs --roles "$work/roles.json" --rendered "$work/base.yaml"

log "deployment artefacts: all checks passed"
