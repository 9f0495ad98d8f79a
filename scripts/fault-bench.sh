#!/usr/bin/env bash
# Fault to page, before vs after: builds the agent at REV (default: the last
# commit before probes were written straight to the TSDB) and runs
# e2e's BenchmarkFaultToPage with it and with this tree, RUNS times each,
# all at once. Prints both medians and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-ed4c4ec}
runs=${2:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$rev" | tar -x -C "$tmp"
(cd "$tmp" && go build -o "$tmp/agent-before" ./cmd/agent)
VIGIL_AGENT_BEFORE="$tmp/agent-before" VIGIL_FAULT_RUNS="$runs" \
  go test ./e2e -run '^$' -bench BenchmarkFaultToPage -benchtime 1x -timeout 30m -v 2>&1 | grep -E 'before|after|Benchmark|ok|FAIL'
