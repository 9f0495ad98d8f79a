#!/usr/bin/env bash
# Measures the agent's resident memory and CPU with 10 targets at 15 s
# intervals (issue target: under 40 MB RSS and under 1% of one core).
# Starts its own app (embedded FerretDB) and redis-server on free ports.
# Usage: scripts/footprint.sh [seconds]   (default 300); AGENT_BIN picks another agent binary.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-300}
[[ -x bin/app && -x bin/agent ]] || make build >/dev/null
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
app_port=$(free_port); mongo_port=$(free_port); redis_port=$(free_port); agent_port=$(free_port)

redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp" --save '' --daemonize no >/dev/null &
pids+=($!)
APP_ENV=development PORT=$app_port DATA_DIR=$tmp/mongo MONGODB_EMBEDDED_ADDR=127.0.0.1:$mongo_port \
  REDIS_URL=redis://127.0.0.1:$redis_port/0 LOG_LEVEL=warn ./bin/app 2>"$tmp/app.log" &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$app_port/api/health" >/dev/null && break; sleep 0.2; done

cat >"$tmp/agent.yml" <<YAML
global: {interval: 15s, timeout: 5s}
targets:
  - {name: app, kind: http, http: {url: "http://127.0.0.1:$app_port/api/health"}}
  - {name: app-metrics, kind: http, http: {url: "http://127.0.0.1:$app_port/api/metrics"}}
  - {name: app-missing, kind: http, http: {url: "http://127.0.0.1:$app_port/api/nope", valid_status_codes: [404]}}
  - {name: app-tcp, kind: tcp, tcp: {address: "127.0.0.1:$app_port"}}
  - {name: redis-tcp, kind: tcp, tcp: {address: "127.0.0.1:$redis_port"}}
  - {name: redis, kind: redis, redis: {address: "127.0.0.1:$redis_port"}}
  - {name: mongodb, kind: mongodb, mongodb: {uri: "mongodb://127.0.0.1:$mongo_port/"}}
  - {name: host, kind: host, host: {}}
  - {name: self, kind: http, http: {url: "http://127.0.0.1:$agent_port/-/healthy"}}
  - {name: down, kind: tcp, tcp: {address: "127.0.0.1:1"}}
scrape_configs:
  - {job_name: app, metrics_path: /api/metrics, static_configs: [{targets: ["127.0.0.1:$app_port"]}]}
storage: {path: "$tmp/agent"}
YAML
env ${AGENT_ENV:-} "${AGENT_BIN:-./bin/agent}" --config.file="$tmp/agent.yml" --web.listen-address="127.0.0.1:$agent_port" --log.level=warn 2>"$tmp/agent.log" &
agent=$!
pids+=($agent)
sleep 20 # start-up (WAL, first probes) is not the steady state

hz=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$agent/stat"; }
t0=$(date +%s.%N); c0=$(cpu); peak=0
end=$(( $(date +%s) + duration ))
while (( $(date +%s) < end )); do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$agent/status")
  (( rss > peak )) && peak=$rss
  sleep 5
done
t1=$(date +%s.%N); c1=$(cpu)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$agent/status")
grep -E '^(RssAnon|RssFile|RssShmem):' "/proc/$agent/status" || true
curl -s "http://127.0.0.1:$agent_port/metrics" | grep -E '^(go_memstats_(heap_inuse|heap_idle|heap_released|stack_inuse|sys)_bytes|process_resident_memory_bytes|go_goroutines) ' || true
python3 - "$t0" "$t1" "$c0" "$c1" "$hz" "$rss" "$peak" "$duration" <<'PY'
import sys
t0,t1,c0,c1,hz,rss,peak,d=map(float,sys.argv[1:])
cpu=(c1-c0)/hz/(t1-t0)*100
print(f"agent with 10 targets at 15s over {d:.0f}s: RSS {rss/1024:.1f} MiB (peak {peak/1024:.1f} MiB, target < 40 MB), "
      f"CPU {cpu:.2f}% of one core (target < 1%)")
PY
