#!/usr/bin/env bash
# Same-run A/B of queue builds for BENCHMARKS.md: runs each binary in turn, ROUNDS times, with
# `--jobs JOBS --concurrency 32`, printing each run's result line. A binary is either
# `lifesync` (run as `lifesync bench queue …`) or the jobs crate's `queue_bench` example.
# Usage: REDIS_URL=redis://127.0.0.1:6391 benches/queue-ab.sh ROUNDS JOBS BIN...
set -uo pipefail
rounds=$1; jobs=$2; shift 2
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
for r in $(seq 1 "$rounds"); do
  for b in "$@"; do
    if [[ $(basename "$b") == lifesync* ]]; then
      line=$("$b" bench queue --jobs "$jobs" --concurrency 32 2>/dev/null | tail -1)
    else
      line=$("$b" --jobs "$jobs" --concurrency 32 2>/dev/null | tail -1)
    fi
    echo "r=$r $(basename "$b") $line"
  done
done
