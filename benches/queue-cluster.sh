#!/usr/bin/env bash
# Queue throughput across masters for BENCHMARKS.md (#18 item 3), in one run: a private
# single-node redis-server and a private Redis Cluster of MASTERS masters (1, or 3 and more;
# default 3; no replicas), all started with the same options on free ports in a temporary
# directory and removed afterwards; then `lifesync bench queue --workers W --cluster …` measures W worker
# processes on the single node, then on the cluster with the bench queue sharded. The line it
# prints has the rates, their ratio and the CPU per job of the workers and of Redis.
#   benches/queue-cluster.sh [BIN] [JOBS] [WORKERS] [CONCURRENCY] [SHARDS] [MASTERS]
set -euo pipefail
bin=${1:-./target/release/lifesync}
jobs=${2:-50000}
workers=${3:-3}
conc=${4:-32}
shards=${5:-12}
masters=${6:-3}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # port, extra args…
    local port=$1; shift
    mkdir -p "$dir/$port"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --maxmemory-policy noeviction --dir "$dir/$port" "$@" >/dev/null 2>&1 &
    pids+=($!)
    until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
}
single=$(free_port)
start "$single"
seeds=() addrs=()
while [ ${#addrs[@]} -lt "$masters" ]; do
    p=$(free_port)
    [ "$p" -lt 55000 ] || continue
    start "$p" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-announce-ip 127.0.0.1
    addrs+=("127.0.0.1:$p"); seeds+=("redis://127.0.0.1:$p")
done
if [ "$masters" -ge 3 ]; then
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
elif [ "$masters" -eq 1 ]; then # redis-cli creates clusters of three masters or more
    redis-cli -p "${addrs[0]#*:}" cluster addslotsrange 0 16383 >/dev/null
else
    echo "MASTERS: 1, or 3 and more" >&2; exit 2
fi
for a in "${addrs[@]}"; do
    until redis-cli -p "${a#*:}" cluster info | grep -q cluster_state:ok; do sleep 0.1; done
done
export REDIS_URL=redis://127.0.0.1:$single
"$bin" bench queue --jobs "$jobs" --workers "$workers" --concurrency "$conc" \
    --shards "$shards" --cluster "$(IFS=,; echo "${seeds[*]}")" 2>"$dir/log" | tail -1 \
    || { cat "$dir/log" >&2; exit 1; }
