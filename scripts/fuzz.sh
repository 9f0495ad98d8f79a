#!/usr/bin/env bash
# Runs every Fuzz target in the module for FUZZTIME each (go test allows one
# target per invocation).
set -euo pipefail
FUZZTIME=${FUZZTIME:-5s}
grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | while read -r f; do
  pkg=./$(dirname "${f#./}")
  grep -oE '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r name; do
    echo "fuzz $pkg $name ($FUZZTIME)"
    go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"
  done
done
