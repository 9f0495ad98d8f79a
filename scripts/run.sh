#!/usr/bin/env bash
# Runs the app on embedded defaults (FerretDB under ./data, in-process cache
# and rate limiter, generated JWT secrets) and, if built, the agent beside it
# with its embedded defaults. Ctrl-C stops both. Used by `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x bin/app ]]; then
  echo "bin/app not found: run 'make run' (or 'make build') first" >&2
  exit 1
fi

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap stop INT TERM EXIT

mkdir -p data
# Redis, when Debian's redis-server is installed (`make test` installs it):
# the app caches and rate-limits through it and the agent probes it.
# Without it the app uses its in-process cache and limiter.
redis_port=${VIGIL_REDIS_PORT:-6390}
if [[ -z "${REDIS_URL:-}" ]] && command -v redis-server >/dev/null; then
  mkdir -p data/redis
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$PWD/data/redis" \
    --save 60 1 --appendonly no --loglevel warning --daemonize no >data/redis/redis.log 2>&1 &
  pids+=($!)
  export REDIS_URL="redis://127.0.0.1:$redis_port/0"
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break
    sleep 0.1
  done
fi

APP_ENV=${APP_ENV:-development} DATA_DIR=${DATA_DIR:-./data/mongo} ./bin/app &
pids+=($!)

if [[ -x bin/agent ]]; then
  # The agent watches what this app runs on: its health endpoint and
  # metrics, the embedded MongoDB (FerretDB), Redis if any, and the host.
  cat >data/agent.yml <<YAML
# Written by scripts/run.sh for \`make run\`; edit scripts/run.sh instead.
global:
  interval: 15s
  timeout: 5s
targets:
  - name: app
    kind: http
    http:
      url: http://localhost:${PORT:-8080}/api/health
  - name: mongodb
    kind: mongodb
    mongodb:
      uri: ${MONGODB_URI:-mongodb://${MONGODB_EMBEDDED_ADDR:-127.0.0.1:27017}/}
  - name: host
    kind: host
    host: {}
YAML
  if [[ -n "${REDIS_URL:-}" ]]; then
    cat >>data/agent.yml <<YAML
  - name: redis
    kind: redis
    redis:
      address: ${REDIS_URL}
YAML
  fi
  cat >>data/agent.yml <<YAML
scrape_configs:
  - job_name: app
    metrics_path: /api/metrics
    static_configs:
      - targets: [localhost:${PORT:-8080}]
storage:
  path: $PWD/data/agent
YAML
  ./bin/agent --config.file=data/agent.yml &
  pids+=($!)
fi

cat <<MSG

  app:    http://localhost:${PORT:-8080}/api/health   (API under /api/, metrics at /api/metrics)
MSG
if [[ -x bin/agent ]]; then
  echo "  agent:  http://localhost:9465/   (status page)"
fi
echo
echo "  Ctrl-C stops everything."
echo

# Exit (and stop the other) as soon as either process ends.
wait -n "${pids[@]}" || true
