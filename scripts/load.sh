#!/usr/bin/env bash
# Load test of the app (`make load`, after `make build`): bin/app on an
# embedded FerretDB in a temporary directory, with a throwaway redis-server
# for the cache and the rate limiter, then wrk against a cached read
# (GET /api/projects/{id}) and a write (POST /api/time-entries).
#
# Environment:
#   APP_BIN       the app binary (default bin/app)
#   DURATION      wrk duration per endpoint (default 10s)
#   THREADS       wrk threads (default 2)
#   CONNECTIONS   wrk connections (default 50)
#   MIN_READ_RPS  target cached reads per second (default 5000)
#   MAX_READ_P99_MS  target p99 of cached reads in ms (default 20)
#   LOAD_ENFORCE  1 (default): exit 1 when the read target is missed; 0: report only
#   LOAD_REDIS    1 (default): cache and limiter in redis-server; 0: in-process (baseline)
#   KEEP_TMP      1: keep the temporary directory (logs) for inspection
set -euo pipefail

cd "$(dirname "$0")/.."
APP_BIN=${APP_BIN:-bin/app}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-50}
MIN_READ_RPS=${MIN_READ_RPS:-5000}
MAX_READ_P99_MS=${MAX_READ_P99_MS:-20}
LOAD_ENFORCE=${LOAD_ENFORCE:-1}
LOAD_REDIS=${LOAD_REDIS:-1}

die() { echo "load: $*" >&2; exit 1; }

for cmd in wrk redis-server curl; do
	command -v "$cmd" >/dev/null || die "$cmd not found: sudo apt-get install -y ${cmd/redis-server/redis-server}"
done
[[ -x $APP_BIN ]] || die "$APP_BIN not found: run 'make build' (or 'make load', which does)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vigil-load.XXXXXX")
APP_PID= REDIS_PID=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for pid in $APP_PID $REDIS_PID; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $APP_PID $REDIS_PID; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ ${KEEP_TMP:-0} == 1 ]]; then
		echo "load: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a loopback TCP port nobody listens on. The kernel's
# ephemeral range is avoided so a port cannot be taken by an outgoing
# connection between the check and the bind.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

wait_for() { # wait_for <what> <seconds> <command...>
	local what=$1 secs=$2
	shift 2
	for _ in $(seq $((secs * 10))); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	return 1
}

redis_ping() { # PING over bash's /dev/tcp: no redis-cli needed
	local reply
	exec 4<>"/dev/tcp/127.0.0.1/$REDIS_PORT" || return 1
	printf 'PING\r\n' >&4
	read -r -t 1 reply <&4 || true
	exec 4>&-
	[[ $reply == +PONG* ]]
}

REDIS_URL= REDIS_PORT=
if [[ $LOAD_REDIS == 1 ]]; then
	REDIS_PORT=$(free_port)
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$TMP" \
		--save '' --appendonly no --daemonize no --loglevel warning \
		>"$TMP/redis.log" 2>&1 &
	REDIS_PID=$!
	wait_for redis 10 redis_ping || die "redis-server did not start: $(cat "$TMP/redis.log")"
	REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
fi

APP_PORT=$(free_port)
MONGO_PORT=$(free_port)
BASE=http://127.0.0.1:$APP_PORT
# LOG_LEVEL=warn: an access-log line per request would measure the logger.
# The limiter stays on (its Redis round trip is part of every request) but
# with a budget the test cannot exhaust.
APP_ENV=development \
	PORT=$APP_PORT \
	DATA_DIR=$TMP/data \
	MONGODB_EMBEDDED_ADDR=127.0.0.1:$MONGO_PORT \
	REDIS_URL=$REDIS_URL \
	RATE_LIMIT_API=1000000 \
	RATE_LIMIT_AUTH=1000 \
	LOG_LEVEL=warn \
	"$APP_BIN" >"$TMP/app.log" 2>&1 &
APP_PID=$!
healthy() { curl -sf -o /dev/null --max-time 1 "$BASE/api/health"; }
wait_for app 60 healthy || die "app not healthy within 60s: $(tail -20 "$TMP/app.log")"

# json_field <name>: the first string value of "name" in the JSON on stdin.
json_field() { sed -n 's/.*"'"$1"'"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -1; }

post() { # post <path> <json> [token]
	curl -sS --fail-with-body --max-time 10 -X POST "$BASE$1" \
		-H 'Content-Type: application/json' ${3:+-H "Authorization: Bearer $3"} -d "$2"
}

reply=$(post /api/auth/register '{"organization":"acme","name":"Ann","email":"ann@example.com","password":"load-test-password-1"}') ||
	die "register failed: $reply"
# The brief documents access_token; the API answers accessToken.
TOKEN=$(json_field accessToken <<<"$reply")
[[ -n $TOKEN ]] || TOKEN=$(json_field access_token <<<"$reply")
[[ -n $TOKEN ]] || die "no access token in: $reply"
reply=$(post /api/projects '{"name":"Load test"}' "$TOKEN") || die "create project failed: $reply"
PROJECT=$(json_field id <<<"$reply")
[[ -n $PROJECT ]] || die "no id in: $reply"
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/api/projects/$PROJECT" ||
	die "GET /api/projects/$PROJECT failed"

cat >"$TMP/read.lua" <<LUA
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
cat >"$TMP/write.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"project":"$PROJECT","date":"2026-01-15","duration":30,"description":"load test"}'
LUA

# to_ms <wrk latency like 812.00us|1.23ms|1.02s>
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
		printf "%.2f", n
	}'
}

# CPU accounting: wall-clock throughput on a shared machine says as much
# about the neighbours as about the app, the CPU each request costs does
# not. cpu_ticks <pid>: utime + stime of a live process; child_cpu: CPU
# seconds of this shell's finished children (wrk, once waited for).
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { [[ -n $1 ]] && awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
child_cpu() { # `times` must run in this shell, not a $(...) subshell
	times >"$TMP/times"
	awk 'NR == 2 { split($1, u, /m|s/); split($2, s, /m|s/); printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$TMP/times"
}
cpu_us() { awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN { printf "%.0f", (n > 0 ? t / hz * 1e6 / n : 0) }'; }

# bench <name> <path> <lua>: runs wrk, prints a summary, sets RPS, P50, P99,
# ERRORS and the CPU microseconds per request of the app, Redis and wrk.
bench() {
	local name=$1 path=$2 lua=$3 out a0 r0 c0 c1 requests
	child_cpu >"$TMP/c0"
	a0=$(cpu_ticks "$APP_PID") r0=$(cpu_ticks "$REDIS_PID") c0=$(<"$TMP/c0")
	out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$lua" "$BASE$path")
	echo "$out" >"$TMP/wrk-$(basename "$lua" .lua).txt"
	child_cpu >"$TMP/c1"
	c1=$(<"$TMP/c1")
	requests=$(awk '/requests in/ {print $1}' <<<"$out")
	APP_US=$(cpu_us $(($(cpu_ticks "$APP_PID") - a0)) "$requests")
	REDIS_US=0
	[[ -z $REDIS_PID ]] || REDIS_US=$(cpu_us $(($(cpu_ticks "$REDIS_PID") - r0)) "$requests")
	WRK_US=$(awk -v c0="$c0" -v c1="$c1" -v n="$requests" 'BEGIN { printf "%.0f", (n > 0 ? (c1 - c0) * 1e6 / n : 0) }')
	RPS=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	P50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
	P99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
	ERRORS=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {for (i = 4; i <= NF; i += 2) n += $i} END {print n + 0}' <<<"$out")
	printf '%-38s %9s req/s  p50 %7s ms  p99 %7s ms  errors %s  CPU/req: app %s us, redis %s us, wrk %s us\n' \
		"$name" "$RPS" "$P50" "$P99" "$ERRORS" "$APP_US" "$REDIS_US" "$WRK_US"
}

backend="in-process cache and limiter"
[[ -z $REDIS_URL ]] || backend="cache and limiter in Redis on :$REDIS_PORT"
echo "load: app on $BASE, $backend, GOGC=${GOGC:-default}; wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
bench "GET /api/projects/{id} (cached read)" "/api/projects/$PROJECT" "$TMP/read.lua"
READ_RPS=$RPS READ_P99=$P99 READ_ERRORS=$ERRORS
# What two idle cores would sustain: all the CPU goes to app, Redis and wrk.
echo "  cached reads on 2 idle cores (2 s of CPU per s / CPU per request): ~$(awk -v a="$APP_US" -v r="$REDIS_US" -v w="$WRK_US" \
	'BEGIN { t = a + r + w; printf "%.0f", (t > 0 ? 2e6 / t : 0) }') req/s with wrk on the same cores, ~$(awk -v a="$APP_US" -v r="$REDIS_US" \
	'BEGIN { t = a + r; printf "%.0f", (t > 0 ? 2e6 / t : 0) }') req/s without"
bench "POST /api/time-entries (write)" "/api/time-entries" "$TMP/write.lua"
WRITE_ERRORS=$ERRORS

hits=$(curl -sf "$BASE/api/metrics" | awk '$1 == "app_cache_hits_total" {print $2}')
misses=$(curl -sf "$BASE/api/metrics" | awk '$1 == "app_cache_misses_total" {print $2}')
echo "cache: hits ${hits:-?}, misses ${misses:-?}"

ok=1
awk -v r="$READ_RPS" -v min="$MIN_READ_RPS" 'BEGIN {exit !(r + 0 >= min + 0)}' || ok=0
awk -v p="$READ_P99" -v max="$MAX_READ_P99_MS" 'BEGIN {exit !(p + 0 < max + 0)}' || ok=0
if [[ $READ_ERRORS != 0 || $WRITE_ERRORS != 0 ]]; then
	ok=0
	grep -H -E 'Socket errors|Non-2xx' "$TMP"/wrk-*.txt | sed "s|$TMP/||" || true
	echo "errors: the app's last warnings:"
	grep -E '"level":"(WARN|ERROR)"|level=(WARN|ERROR)' "$TMP/app.log" | tail -5 || true
fi
if [[ $ok == 1 ]]; then
	echo "target met: cached reads >= $MIN_READ_RPS req/s with p99 < $MAX_READ_P99_MS ms, no errors"
else
	echo "target MISSED: cached reads >= $MIN_READ_RPS req/s with p99 < $MAX_READ_P99_MS ms and no errors (got $READ_RPS req/s, p99 $READ_P99 ms, errors read $READ_ERRORS write $WRITE_ERRORS)"
	[[ $LOAD_ENFORCE == 0 ]] || exit 1
fi
