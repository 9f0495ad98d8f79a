#!/usr/bin/env bash
# The agent's memory against the exporters it replaces, in one run on the
# same targets (issue 10's target: the agent alone below half of their sum).
# The agent probes four targets, one per kind: redis, mongodb, host (every
# collector) and http. Beside it run redis_exporter, node_exporter (its
# default collectors), blackbox_exporter (http_2xx), pinned by
# tools/exporters, and Percona's mongodb_exporter (compatible mode, the
# collectors the agent's mongodb kind has by default), pinned by
# tools/mongodbexporter, built as the parity tests build them (`go -C
# tools/<module> tool -n`), each scraped every 15 s as Prometheus would.
# Every binary is static (CGO_ENABLED=0), the agent as the Dockerfile builds
# it and the exporters the same way, so that the comparison is even: a cgo
# build maps libc and ld.so too, about 2 MiB of RSS per process.
# AGENT_BIN measures another agent build against the same exporters.
# Usage: scripts/footprint-vs-exporters.sh [seconds]   (default 120, after 20 s of start-up)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-120}
[[ -x bin/app ]] || make build >/dev/null
export CGO_ENABLED=0
exporter() { go -C tools/exporters tool -n "$1"; }
redis_exporter=$(exporter redis_exporter)
node_exporter=$(exporter node_exporter)
blackbox_exporter=$(exporter blackbox_exporter)
mongodb_exporter=$(go -C tools/mongodbexporter tool -n mongodb_exporter)
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
agent_bin=${AGENT_BIN:-}
if [[ -z $agent_bin ]]; then
  agent_bin=$tmp/agent-bin
  go build -trimpath -ldflags "-s -w" -o "$agent_bin" ./cmd/agent
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
app_port=$(free_port); mongo_port=$(free_port); redis_port=$(free_port); agent_port=$(free_port)
rexp_port=$(free_port); nexp_port=$(free_port); bexp_port=$(free_port); mexp_port=$(free_port)

redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp" --save '' --daemonize no >/dev/null &
pids+=($!)
APP_ENV=development PORT=$app_port DATA_DIR=$tmp/mongo MONGODB_EMBEDDED_ADDR=127.0.0.1:$mongo_port \
  REDIS_URL=redis://127.0.0.1:$redis_port/0 LOG_LEVEL=warn ./bin/app 2>"$tmp/app.log" &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$app_port/api/health" >/dev/null && break; sleep 0.2; done
health="http://127.0.0.1:$app_port/api/health"

cat >"$tmp/agent.yml" <<YAML
global: {interval: 15s, timeout: 5s}
targets:
  - {name: redis, kind: redis, redis: {address: "127.0.0.1:$redis_port"}}
  - {name: mongodb, kind: mongodb, mongodb: {uri: "mongodb://127.0.0.1:$mongo_port/"}}
  - {name: host, kind: host, host: {}}
  - {name: app, kind: http, http: {url: "$health"}}
storage: {path: "$tmp/agent"}
YAML
"$agent_bin" --config.file="$tmp/agent.yml" --web.listen-address="127.0.0.1:$agent_port" --log.level=warn 2>"$tmp/agent.log" &
agent=$!; pids+=($agent)

"$redis_exporter" -web.listen-address="127.0.0.1:$rexp_port" 2>"$tmp/redis_exporter.log" &
rexp=$!; pids+=($rexp)
"$node_exporter" --web.listen-address="127.0.0.1:$nexp_port" --log.level=warn 2>"$tmp/node_exporter.log" &
nexp=$!; pids+=($nexp)
printf 'modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n' >"$tmp/blackbox.yml"
"$blackbox_exporter" --config.file="$tmp/blackbox.yml" --web.listen-address="127.0.0.1:$bexp_port" --log.level=warn 2>"$tmp/blackbox.log" &
bexp=$!; pids+=($bexp)
"$mongodb_exporter" --mongodb.uri="mongodb://127.0.0.1:$mongo_port/" --web.listen-address="127.0.0.1:$mexp_port" \
  --compatible-mode --collector.diagnosticdata --collector.replicasetstatus --collector.dbstats 2>"$tmp/mongodb_exporter.log" &
mexp=$!; pids+=($mexp)

for u in "http://127.0.0.1:$rexp_port/health" "http://127.0.0.1:$nexp_port/" "http://127.0.0.1:$bexp_port/-/ready" "http://127.0.0.1:$mexp_port/"; do
  for _ in $(seq 100); do curl -fs -o /dev/null "$u" && break; sleep 0.1; done
done

# Prometheus's part for the exporters: a scrape of each every 15 s.
scrapes=(
  "http://127.0.0.1:$rexp_port/scrape?target=127.0.0.1:$redis_port"
  "http://127.0.0.1:$nexp_port/metrics"
  "http://127.0.0.1:$bexp_port/probe?module=http_2xx&target=$health"
  "http://127.0.0.1:$mexp_port/metrics"
)
scraper() { while true; do for u in "${scrapes[@]}"; do curl -fs -o /dev/null "$u" || echo "scrape failed: $u" >&2; done; sleep 15; done; }
scraper &
pids+=($!)

sleep 20 # start-up (WAL, first probes and scrapes) is not the steady state
kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
declare -A peak=()
end=$(( $(date +%s) + duration ))
while (( $(date +%s) < end )); do
  for p in $agent $rexp $nexp $bexp $mexp; do
    r=$(kib "$p" VmRSS); (( r > ${peak[$p]:-0} )) && peak[$p]=$r
  done
  sleep 5
done
for p in agent:$agent redis_exporter:$rexp node_exporter:$nexp blackbox_exporter:$bexp mongodb_exporter:$mexp; do
  pid=${p#*:}; r=$(kib "$pid" VmRSS); (( r > ${peak[$pid]:-0} )) && peak[$pid]=$r
  echo "${p%%:*} $r $(kib "$pid" RssAnon) ${peak[$pid]}"
done >"$tmp/rss"
python3 - "$tmp/rss" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
mib = lambda kib: int(kib) / 1024
print("%-20s%9s%13s%14s" % ("process", "RSS MiB", "RssAnon MiB", "peak RSS MiB"))
for name, rss, anon, peak in rows:
    print("%-20s%9.1f%13.1f%14.1f" % (name, mib(rss), mib(anon), mib(peak)))
agent, ex = rows[0], rows[1:]
s = [sum(int(r[i]) for r in ex) for i in (1, 2, 3)]
print("%-20s%9.1f%13.1f%14.1f" % ("exporters (sum)", mib(s[0]), mib(s[1]), mib(s[2])))
print("agent / exporters: RSS %.2f, RssAnon %.2f, peak RSS %.2f (target < 0.5)"
      % (int(agent[1]) / s[0], int(agent[2]) / s[1], int(agent[3]) / s[2]))
PY
