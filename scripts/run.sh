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

APP_ENV=${APP_ENV:-development} DATA_DIR=${DATA_DIR:-./data/mongo} ./bin/app &
pids+=($!)

if [[ -x bin/agent ]]; then
  ./bin/agent &
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
