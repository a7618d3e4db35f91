#!/usr/bin/env bash
# Same-run comparison for BENCHMARKS.md: redis-benchmark, then `lifesync bench queue` and the
# BullMQ reference (bullmq-reference/, same workload) alternately at concurrency 1, 8 and 32,
# all against the same local Redis. Usage: benches/queue-vs-bullmq.sh [JOBS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-100000}
rounds=${2:-1}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
cargo build --release -q
(cd benches/bullmq-reference && npm install --no-audit --no-fund --silent)
redis-benchmark -q -t set,lpush,rpop -n 200000 2>&1 | tr '\r' '\n' | grep 'requests per second'
for c in 1 8 32; do
  for r in $(seq 1 "$rounds"); do
    echo "c=$c $(./target/release/lifesync bench queue --jobs "$jobs" --concurrency "$c" 2>/dev/null | tail -1)"
    echo "c=$c $(node benches/bullmq-reference/bench.mjs --jobs "$jobs" --concurrency "$c" 2>/dev/null | tail -1)"
  done
done
