#!/usr/bin/env bash
# Where Redis's work goes on a cluster (BENCHMARKS.md, #18 item 3): one `lifesync bench queue
# --cluster` run (3 worker processes, concurrency 32, 3 shards) between a private single node and
# a private 3-master cluster, with `INFO cpu` and `INFO commandstats` of every server read before
# and after; prints each server's CPU seconds, commands, script calls, claims that leased jobs
# (SADD), claim calls (RPOP) and ack groups (SREM), and per job and per claim for both.
#   benches/queue-cluster-stats.sh BIN [JOBS]
set -euo pipefail
bin=$1; jobs=${2:-200000}
dir=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { local port=$1; shift; mkdir -p "$dir/$port"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --maxmemory-policy noeviction --dir "$dir/$port" "$@" >/dev/null 2>&1 &
  pids+=($!); until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done; }
single=$(free_port); start "$single"
ports=(); seeds=()
while [ ${#ports[@]} -lt 3 ]; do p=$(free_port); [ "$p" -lt 55000 ] || continue
  start "$p" --cluster-enabled yes --cluster-config-file nodes.conf; ports+=("$p"); seeds+=("redis://127.0.0.1:$p"); done
redis-cli --cluster create $(for p in "${ports[@]}"; do echo 127.0.0.1:$p; done) --cluster-replicas 0 --cluster-yes >/dev/null
for p in "${ports[@]}"; do until redis-cli -p "$p" cluster info | grep -q cluster_state:ok; do sleep 0.1; done; done
snap() { for p in "$single" "${ports[@]}"; do
  cpu=$(redis-cli -p "$p" info cpu | awk -F: '/used_cpu_(sys|user):/{s+=$2} END{printf "%.3f", s}')
  calls=$(redis-cli -p "$p" info commandstats | awk -F'[=,]' '/^cmdstat_/{c+=$2} END{print c}')
  evals=$(redis-cli -p "$p" info commandstats | awk -F'[=,]' '/^cmdstat_evalsha/{print $2}')
  # claims that leased jobs (SADD), ack groups (SREM: one per lease per ack call)
  sadd=$(redis-cli -p "$p" info commandstats | awk -F'[=,]' '/^cmdstat_sadd:/{print $2}')
  srem=$(redis-cli -p "$p" info commandstats | awk -F'[=,]' '/^cmdstat_srem:/{print $2}')
  rpop=$(redis-cli -p "$p" info commandstats | awk -F'[=,]' '/^cmdstat_rpop:/{print $2}')
  echo "$p $cpu $calls ${evals:-0} ${sadd:-0} ${srem:-0} ${rpop:-0}"; done; }
snap > "$dir/before"
REDIS_URL=redis://127.0.0.1:$single "$bin" bench queue --jobs "$jobs" --workers 3 --concurrency 32 --shards 3 \
  --cluster "$(IFS=,; echo "${seeds[*]}")" 2>/dev/null | tail -1
snap > "$dir/after"
paste "$dir/before" "$dir/after" | awk -v s="$single" -v n="$jobs" '{cpu=$9-$2; calls=$10-$3; ev=$11-$4; sa=$12-$5; sr=$13-$6; rp=$14-$7;
  role=($1==s)?"single":"master"; printf "%s %s cpu_s=%.3f commands=%d evalsha=%d claim_calls=%d claims=%d ack_groups=%d\n", role, $1, cpu, calls, ev, rp, sa, sr;
  if (role=="master") {mc+=cpu; mcalls+=calls; mev+=ev; msa+=sa; msr+=sr; mrp+=rp} else {sc=cpu; scalls=calls; sev=ev; ssa=sa; ssr=sr; srp=rp} }
  END { j=2*n; printf "per job: single cpu_us=%.2f commands=%.3f evalsha=%.4f | cluster cpu_us=%.2f commands=%.3f evalsha=%.4f\n", sc*1e6/j, scalls/j, sev/j, mc*1e6/j, mcalls/j, mev/j;
        printf "claim calls: single %d, cluster %d (of which leased jobs: %d, %d); jobs per claim: single %.0f, cluster %.0f; jobs per ack group: single %.0f, cluster %.0f\n", srp, mrp, ssa, msa, j/ssa, j/msa, j/ssr, j/msr }'
