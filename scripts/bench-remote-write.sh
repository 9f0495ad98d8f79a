#!/usr/bin/env bash
# Remote-write cost of the agent against Prometheus 2.42 in agent mode (issue 11).
#
# One scrape target with SERIES active series (default 100000, values
# changing every scrape) is scraped every INTERVAL (default 15s) by both
# senders, which remote-write to ONE receiver: a third Prometheus with
# --web.enable-remote-write-receiver. Each sender adds external label
# sender=vigil|prometheus, so the receiver tells the streams apart. The agent
# runs as shipped: the embedded default rules (rules/files/*.yml) are
# evaluated every 15s beside the scrape.
#
# After WARMUP seconds (default 35: WAL creation, first scrapes, queues
# reaching their steady shard count) the script measures, over `seconds`
# (default 180), per sender: CPU seconds (utime+stime of /proc/PID/stat) per
# million samples delivered, and RSS (VmRSS, max over 2s samples and at the
# end). "Delivered" is what the receiver holds of the target's job for that
# window (count_over_time of the sender's series with timestamps in it);
# the sender's own prometheus_remote_storage_samples_total delta is printed
# as a cross-check. Ratios agent/Prometheus: the goal is <= 1.0 on both.
#
# Usage: scripts/bench-remote-write.sh [seconds]
#   SERIES, INTERVAL, WARMUP: as above. AGENT_BIN: agent binary (default
#   bin/agent, built by `make build`). PROMETHEUS_BIN: default `prometheus`.
# Everything listens on loopback ports picked free at start, in a temp dir
# removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-180}
series=${SERIES:-100000}
interval=${INTERVAL:-15s}
warmup=${WARMUP:-35}
agent_bin=${AGENT_BIN:-./bin/agent}
prom_bin=${PROMETHEUS_BIN:-prometheus}

need() {
  command -v "$1" >/dev/null || { echo "bench-remote-write: $1 not found; install it with: $2" >&2; exit 1; }
}
need "$prom_bin" "apt-get install -y prometheus   (Debian 12: Prometheus 2.42)"
need python3 "apt-get install -y python3"
need curl "apt-get install -y curl"
if [[ ! -x $agent_bin ]]; then
  [[ -z ${AGENT_BIN:-} ]] || { echo "bench-remote-write: AGENT_BIN=$agent_bin is not an executable" >&2; exit 1; }
  make build >/dev/null
fi
[[ $duration =~ ^[0-9]+$ && $duration -ge 30 ]] || { echo "bench-remote-write: seconds must be an integer >= 30, got $duration" >&2; exit 1; }
[[ $interval =~ ^([0-9]+)s$ && ${BASH_REMATCH[1]} -ge 1 ]] || { echo "bench-remote-write: INTERVAL must be whole seconds like 15s, got $interval" >&2; exit 1; }
# Prometheus's default scrape timeout, below the interval when that is shorter.
timeout=10s
(( ${interval%s} <= 10 )) && timeout=$(( ${interval%s} * 1000 - 500 ))ms
[[ $series =~ ^[0-9]+$ && $series -ge 1 ]] || { echo "bench-remote-write: SERIES must be a positive integer, got $series" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  # SIGKILL: the measurement is over, and a sender's graceful shutdown would
  # wait up to a minute flushing its queue to a receiver killed beside it.
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_url URL WHAT LOG PID: up to 60s for URL to answer 2xx while PID runs.
wait_url() {
  for _ in $(seq 300); do
    curl -fs --max-time 2 "$1" >/dev/null && return 0
    kill -0 "$4" 2>/dev/null || break
    sleep 0.2
  done
  echo "bench-remote-write: $2 did not become ready; its log:" >&2
  tail -n 30 "$3" >&2
  exit 1
}

# The target: SERIES series in 100 gauge families, every value different
# on each scrape (a static file would let both senders' samples compress
# into nothing). Serves on a port it picks itself and writes to a file.
cat >"$tmp/target.py" <<'PY'
import http.server, sys, threading
series, portfile = int(sys.argv[1]), sys.argv[2]
families = 100
per = max(1, series // families)
lines, heads = [], []
for f in range(families):
    heads.append(f"# HELP bench_metric_{f} Benchmark gauge {f}.\n# TYPE bench_metric_{f} gauge\n")
    lines.append([f'bench_metric_{f}{{id="{i}",group="g{i % 10}"}} ' for i in range(per)])
lock = threading.Lock()
scrapes = [0]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        with lock:
            scrapes[0] += 1
            n = scrapes[0]
        parts = []
        for f in range(families):
            parts.append(heads[f])
            parts.extend(f"{p}{n * 7 + i}\n" for i, p in enumerate(lines[f]))
        body = "".join(parts).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as fh:
    fh.write(str(s.server_address[1]))
import os; os.rename(portfile + ".tmp", portfile)
s.serve_forever()
PY
python3 "$tmp/target.py" "$series" "$tmp/target.port" 2>"$tmp/target.log" &
pids+=("$!")
for _ in $(seq 100); do [[ -s $tmp/target.port ]] && break; sleep 0.1; done
[[ -s $tmp/target.port ]] || { echo "bench-remote-write: target did not start:" >&2; cat "$tmp/target.log" >&2; exit 1; }
target=127.0.0.1:$(cat "$tmp/target.port")

recv_port=$(free_port); prom_port=$(free_port); agent_port=$(free_port)
write_url=http://127.0.0.1:$recv_port/api/v1/write

# The receiver: scrapes nothing, keeps what it is sent.
echo 'global: {}' >"$tmp/receiver.yml"
"$prom_bin" --config.file="$tmp/receiver.yml" --storage.tsdb.path="$tmp/receiver" \
  --web.listen-address="127.0.0.1:$recv_port" --web.enable-remote-write-receiver \
  --log.level=warn 2>"$tmp/receiver.log" &
pids+=("$!")
wait_url "http://127.0.0.1:$recv_port/-/ready" receiver "$tmp/receiver.log" "${pids[-1]}"

# Both senders: the same job on the same target, one queue with upstream's
# default queue_config, to the same receiver.
cat >"$tmp/prometheus.yml" <<YAML
global: {scrape_interval: $interval, scrape_timeout: $timeout, external_labels: {sender: prometheus}}
scrape_configs:
  - {job_name: bench, static_configs: [{targets: ["$target"]}]}
remote_write:
  - {url: "$write_url", name: receiver}
YAML
cat >"$tmp/agent.yml" <<YAML
global: {interval: $interval, timeout: $timeout, external_labels: {sender: vigil}}
scrape_configs:
  - {job_name: bench, static_configs: [{targets: ["$target"]}]}
storage: {path: "$tmp/agent"}
remote_write:
  - {url: "$write_url", name: receiver}
YAML

"$prom_bin" --enable-feature=agent --config.file="$tmp/prometheus.yml" --storage.agent.path="$tmp/prometheus" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn 2>"$tmp/prometheus.log" &
prom_pid=$!
pids+=("$prom_pid")
"$agent_bin" --config.file="$tmp/agent.yml" --web.listen-address="127.0.0.1:$agent_port" \
  --log.level=warn 2>"$tmp/agent.log" &
agent_pid=$!
pids+=("$agent_pid")
wait_url "http://127.0.0.1:$prom_port/-/ready" "Prometheus (agent mode)" "$tmp/prometheus.log" "$prom_pid"
wait_url "http://127.0.0.1:$agent_port/-/ready" agent "$tmp/agent.log" "$agent_pid"

echo "bench-remote-write: $series series every $interval, warm-up ${warmup}s, measuring ${duration}s" >&2
sleep "$warmup"

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
alive() {
  kill -0 "$1" 2>/dev/null && return 0
  echo "bench-remote-write: $2 exited; its log:" >&2
  tail -n 30 "$3" >&2
  exit 1
}
# samples_sent PORT: the sender's own count of samples it sent.
samples_sent() {
  curl -fs --max-time 10 "http://127.0.0.1:$1/metrics" |
    awk '/^prometheus_remote_storage_samples_total[{ ]/ {s += $NF} END {printf "%.0f\n", s}'
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s.%N)
a_c0=$(cpu_ticks "$agent_pid"); p_c0=$(cpu_ticks "$prom_pid")
a_s0=$(samples_sent "$agent_port"); p_s0=$(samples_sent "$prom_port")
a_peak=0; p_peak=0
end=$(( $(date +%s) + duration ))
while (( $(date +%s) < end )); do
  alive "$agent_pid" agent "$tmp/agent.log"
  alive "$prom_pid" "Prometheus (agent mode)" "$tmp/prometheus.log"
  r=$(rss_kib "$agent_pid"); (( r > a_peak )) && a_peak=$r
  r=$(rss_kib "$prom_pid"); (( r > p_peak )) && p_peak=$r
  sleep 2
done
t1=$(date +%s.%N)
a_c1=$(cpu_ticks "$agent_pid"); p_c1=$(cpu_ticks "$prom_pid")
a_rss=$(rss_kib "$agent_pid"); p_rss=$(rss_kib "$prom_pid")
a_s1=$(samples_sent "$agent_port"); p_s1=$(samples_sent "$prom_port")
load=$(cut -d' ' -f1-3 /proc/loadavg)

# Samples scraped before t1 reach the receiver within batch_send_deadline
# (5s) plus a request: wait, then count what arrived for the window.
sleep 15
window=$(python3 -c "print(int(round($t1 - $t0)))")
# received SENDER: "samples of job bench" "all samples" the receiver holds
# with timestamps in the window. One query per metric name: count_over_time
# drops the name, and series of different names would collide.
received() {
  python3 - "http://127.0.0.1:$recv_port" "$1" "$window" "$t1" <<'PY'
import json, sys, urllib.parse, urllib.request
base, sender, window, t1 = sys.argv[1:]
def get(path, **params):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return json.load(r)["data"]
    except Exception as e:
        body = e.read()[:300] if hasattr(e, "read") else b""
        sys.exit(f"bench-remote-write: receiver {url}: {e} {body!r}")
sel = f'sender="{sender}"'
names = get("/api/v1/label/__name__/values", **{"match[]": "{" + sel + "}", "start": float(t1) - int(window), "end": t1})
bench = total = 0
for n in names:
    q = f'sum by (job) (count_over_time({{__name__="{n}",{sel}}}[{window}s]))'
    for r in get("/api/v1/query", query=q, time=t1)["result"]:
        v = float(r["value"][1])
        total += v
        if r["metric"].get("job") == "bench":
            bench += v
print(f"{bench:.0f} {total:.0f}")
PY
}
read -r a_recv a_all < <(received vigil)
read -r p_recv p_all < <(received prometheus)
[[ -n ${a_recv:-} && -n ${p_recv:-} ]] || { echo "bench-remote-write: counting at the receiver failed" >&2; exit 1; }

python3 - "$(getconf CLK_TCK)" "$t0" "$t1" "$load0 at the start, $load at the end" "$series" "$interval" \
  "$a_c0" "$a_c1" "$a_recv" "$a_all" "$a_s0" "$a_s1" "$a_peak" "$a_rss" \
  "$p_c0" "$p_c1" "$p_recv" "$p_all" "$p_s0" "$p_s1" "$p_peak" "$p_rss" <<'PY'
import sys
a = sys.argv[1:]
hz, t0, t1 = float(a[0]), float(a[1]), float(a[2])
load, series, interval = a[3], int(a[4]), a[5]
def sender(v):
    c0, c1, recv, allrecv, s0, s1, peak, rss = map(float, v)
    cpu = (c1 - c0) / hz
    return dict(cpu=cpu, recv=recv, all=allrecv, sent=s1 - s0, peak=peak / 1024, rss=rss / 1024,
                per=cpu / (recv / 1e6) if recv else float("inf"))
ag, pr = sender(a[6:14]), sender(a[14:22])
print(f"\n{series} series every {interval}, {t1 - t0:.0f}s measured, load average {load}\n")
print("| sender | CPU s | samples delivered (job bench) | all its samples delivered | sent (own metric) | CPU s per 1M delivered | RSS max MiB | RSS end MiB |")
print("|---|---|---|---|---|---|---|---|")
for name, s in (("vigil agent", ag), ("Prometheus 2.42 agent mode", pr)):
    print(f"| {name} | {s['cpu']:.1f} | {s['recv']:.0f} | {s['all']:.0f} | {s['sent']:.0f} | {s['per']:.2f} | {s['peak']:.1f} | {s['rss']:.1f} |")
def ratio(x, y):
    return x / y if y else float("inf")
print(f"| **ratio agent / Prometheus** | {ratio(ag['cpu'], pr['cpu']):.2f} | {ratio(ag['recv'], pr['recv']):.2f} | | | "
      f"**{ratio(ag['per'], pr['per']):.2f}** | **{ratio(ag['peak'], pr['peak']):.2f}** | **{ratio(ag['rss'], pr['rss']):.2f}** |")
for name, s in (("vigil agent", ag), ("Prometheus", pr)):
    if s["all"] and abs(s["sent"] - s["all"]) / s["all"] > 0.1:
        print(f"note: {name} counts {s['sent']:.0f} samples sent, the receiver {s['all']:.0f} for the window "
              "(the two windows differ by the send latency)")
PY
