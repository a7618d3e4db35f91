#!/usr/bin/env python3
"""Checks the guarantee table of jobs/README.md: for each row, disables the line that implements
the guarantee, runs the test that proves it, expects it to fail, and restores the line.
Usage (from anywhere): python3 jobs/check-guarantees.py [ROW...]; about 15 minutes for all.
Each result names the line disabled (as the README's table should) and the verdict: only a test
that ran and failed counts as proof; a missing test or a compile error is reported as such."""
import subprocess, sys, os, json
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
env = dict(os.environ)
# (row, file, line as it is, line disabled, test file, test)
M = [
 ('fencing: stale ack ignored', 'jobs/src/lua/ack.lua', 'if held[k] == 1 and not ended[id] then', 'if not ended[id] then', 'fencing', 'a_stale_ack_cannot_overwrite_the_current_run'),
 ('fencing: stale heartbeat refused', 'jobs/src/lua/heartbeat.lua', '    if held[k] == 1 then', '    if true then', 'fencing', 'a_stale_heartbeat_is_refused_and_renews_nothing'),
 ('heartbeat renews lease', 'jobs/src/lua/heartbeat.lua', "  if any then redis.call('ZADD', claims_key, 'XX', deadline, ls) end", '', 'fencing', 'heartbeats_keep_a_job_that_outlives_its_lease_from_being_redelivered'),
 ('claim leases (claim set)', 'jobs/src/lua/claim.lua', "      redis.call('SADD', claim_key(ls), unpack(leased))\n      redis.call('ZADD', claims_key, deadline, ls)\n", '', 'processes', 'a_killed_workers_job_is_redelivered_with_the_next_attempt'),
 ('expired lease re-delivered', 'jobs/src/lua/claim.lua', "      redis.call('HSET', jk, 'state', 'ready')\n      redis.call('RPUSH', ready_key, id)", "      redis.call('HSET', jk, 'state', 'ready')", 'processes', 'a_killed_workers_job_is_redelivered_with_the_next_attempt'),
 ('attempt counted when its lease ends', 'jobs/src/lua/ack.lua', 'local attempts = (tonumber(f[1]) or 0) + 1', 'local attempts = (tonumber(f[1]) or 0)', 'delivery', 'out_of_attempts_goes_dead_with_history'),
 ('expired lease out of attempts: dead', 'jobs/src/lua/claim.lua', 'if attempt >= tonumber(f[2]) then', 'if false then', 'processes', 'a_job_that_crashes_its_process_ends_dead_and_frees_its_unique_key'),
 ('failure out of attempts: dead', 'jobs/src/lua/ack.lua', "push_history(jk, attempts, 'failed', err)\n            if attempts >= max_att then", "push_history(jk, attempts, 'failed', err)\n            if false then", 'delivery', 'out_of_attempts_goes_dead_with_history'),
 ('failure history kept', 'jobs/src/lua/ack.lua', "push_history(jk, attempts, 'failed', err)", '', 'delivery', 'out_of_attempts_goes_dead_with_history'),
 ('retry waits its backoff', 'jobs/src/lua/ack.lua', "redis.call('HSET', jk, 'state', 'retrying', 'run_at_ms', now + delay)\n              redis.call('ZADD', retrying_key, now + delay, id)", "redis.call('HSET', jk, 'state', 'retrying', 'run_at_ms', now + delay)\n              redis.call('ZADD', retrying_key, now, id)", 'delivery', 'failed_attempts_back_off_exponentially_with_jitter'),
 ('backoff grows exponentially', 'jobs/src/backend.rs', 'delay: settings.retry.delay(lease.map_or(1, |l| l.attempt)),', 'delay: settings.retry.delay(1),', 'delivery', 'failed_attempts_back_off_exponentially_with_jitter'),
 ('retry-after spends no attempt', 'jobs/src/lua/ack.lua', "'attempts', attempts - 1, 'deferrals', deferrals,", "'attempts', attempts, 'deferrals', deferrals,", 'delivery', 'retry_after_is_honoured_without_spending_an_attempt'),
 ('retry-after waits what was asked', 'jobs/src/lua/ack.lua', "redis.call('ZADD', retrying_key, now + delay, id)\n            end\n          elseif outcome == 'r'", "redis.call('ZADD', retrying_key, now, id)\n            end\n          elseif outcome == 'r'", 'delivery', 'retry_after_is_honoured_without_spending_an_attempt'),
 ('deferral cap buries', 'jobs/src/lua/ack.lua', 'if deferrals > max_deferrals then', 'if false then', 'guarantees', 'deferrals_spend_no_attempt_and_the_one_past_the_cap_buries_the_job'),
 ('abort: dead at once', 'jobs/src/lua/ack.lua', "push_history(jk, attempts, 'aborted', err)\n            bury(id, jk, uniq, dead_ttl)", "push_history(jk, attempts, 'aborted', err)", 'delivery', 'abort_goes_dead_at_once'),
 ('timeout is a failure', 'jobs/src/backend.rs', '                    settings.job_timeout,', '                    Duration::from_secs(3600),', 'delivery', 'timeouts_count_as_failures_and_are_retried'),
 ('panic is a failure', 'jobs/src/backend.rs', 'Ok(Err(panic)) => {\n                        let msg = panic_message(&panic);\n                        let e: BoxDynError = format!("job panicked: {msg}").into();\n                        (failure_outcome(settings, lease.as_ref(), &e), Err(e))', 'Ok(Err(panic)) => {\n                        let msg = panic_message(&panic);\n                        let e: BoxDynError = format!("job panicked: {msg}").into();\n                        (Outcome::Aborted { error: msg }, Err(e))', 'delivery', 'panics_count_as_failures_and_are_retried'),
 ('undecodable payload: dead', 'jobs/src/backend.rs', '            lane.record(\n                job.id,\n                job.lease,\n                job.shard,\n                Outcome::Aborted {', '            lane.record(\n                job.id,\n                job.lease,\n                job.shard,\n                Outcome::Interrupted {', 'guarantees', 'an_undecodable_payload_is_dead_lettered_not_retried'),
 ('unique: dedup while live', 'jobs/src/lua/enqueue.lua', "if holder and (redis.call('HEXISTS', fresh_key, holder) == 1\n        or live[redis.call('HGET', job_key(holder), 'state')]) then", 'if false then', 'delivery', 'unique_key_dedupes_while_live_and_is_released_when_the_job_ends'),
 ('unique: released on success', 'jobs/src/lua/ack.lua', '      done = done + 1\n      release_unique(uniq, id)', '      done = done + 1', 'guarantees', 'a_finished_jobs_unique_key_and_success_count_leave_no_lasting_keys'),
 ('unique: released when dead', 'jobs/src/lua/common.lua', "  redis.call('EXPIRE', jk, dead_ttl)\n  release_unique(uniq, id)", "  redis.call('EXPIRE', jk, dead_ttl)", 'guarantees', 'a_finished_jobs_unique_key_and_success_count_leave_no_lasting_keys'),
 ('deterministic id idempotent', 'jobs/src/lua/enqueue.lua', "if fixed and redis.call('EXISTS', jk) == 1 then", 'if false then', 'delivery', 'enqueue_by_deterministic_id_is_idempotent'),
 ('delayed jobs scheduled', 'jobs/src/lua/enqueue.lua', 'if delay > 0 then', 'if false then', 'delivery', 'delayed_jobs_wait_in_the_scheduled_set_until_due'),
 ('due jobs promoted', 'jobs/src/lua/claim.lua', "    redis.call('RPUSH', ready_key, unpack(due))", '', 'delivery', 'delayed_jobs_wait_in_the_scheduled_set_until_due'),
 ("retention: a fresh job's success expires", 'jobs/src/lua/ack.lua', "    redis.call('EXPIRE', dk, ttl)", '', 'guarantees', 'a_success_is_kept_for_the_retention_then_expires'),
 ('retention: succeeded record expires', 'jobs/src/lua/ack.lua', "        redis.call('EXPIRE', jk, succ_ttl_s)", '', 'guarantees', 'a_success_is_kept_for_the_retention_then_expires'),
 ('retention: dead record expires', 'jobs/src/lua/common.lua', "  redis.call('EXPIRE', jk, dead_ttl)", '', 'delivery', 'retention_expires_finished_jobs_and_memory_stays_flat'),
 ('retention: dead index trimmed', 'jobs/src/lua/claim.lua', "redis.call('ZREMRANGEBYSCORE', dead_key, '-inf', now - dead_ttl * 1000)", '', 'guarantees', 'the_dead_index_is_trimmed_to_the_dead_retention'),
 ('retention: success buckets expire', 'jobs/src/lua/ack.lua', "  redis.call('EXPIRE', bucket, ttl)", '', 'guarantees', 'a_finished_jobs_unique_key_and_success_count_leave_no_lasting_keys'),
 ('stats: successes counted', 'jobs/src/lua/ack.lua', "  redis.call('INCRBY', bucket, done)", '', 'delivery', 'stats_match_the_stored_states_after_a_mixed_workload'),
 ('stats: running = leases held', 'jobs/src/lua/ack.lua', "    if ne > 0 then end_leases(ls, ending) end", '', 'delivery', 'stats_match_the_stored_states_after_a_mixed_workload'),
 ('shutdown: prefetched handed back', 'jobs/src/backend.rs', '                    if let Some(l) = task.ctx().data().get::<JobLease>() {\n                        lane.record(l.id.clone(), l.lease, l.shard, Outcome::HandedBack);\n                    }\n                }\n            }\n            lane.flush().await;', '                    let _ = task;\n                }\n            }\n            lane.flush().await;', 'processes', 'sigterm_lets_running_jobs_finish_and_hands_back_the_rest'),
 ('shutdown: hand-back spends no attempt', 'jobs/src/lua/ack.lua', "        if not payload then redis.call('HSET', jk, 'state', 'ready') end", "        if payload then materialize(jk, max_attempts, uniq, created, payload); ng = ng + 1; gone[ng] = id end\n        redis.call('HSET', jk, 'state', 'ready', 'attempts', (tonumber(redis.call('HGET', jk, 'attempts')) or 0) + 1)", 'processes', 'sigterm_lets_running_jobs_finish_and_hands_back_the_rest'),
 ('shutdown: acks flushed before exit', 'jobs/src/backend.rs', '            }\n            lane.flush().await;\n            if let Some(h) = heartbeat {', '            }\n            if let Some(h) = heartbeat {', 'guarantees', 'a_bare_monitor_returns_only_once_its_acks_are_in_redis'),
 ('grace over: running handed back', 'jobs/src/runner.rs', '        if h.held() > 0 {', '        if false {', 'processes', 'after_the_grace_period_running_jobs_are_handed_back_at_once'),
 ('bounded promotion per claim', 'jobs/src/lua/claim.lua', "local due = redis.call('ZRANGEBYSCORE', set_key[set], '-inf', now, 'LIMIT', 0, batch)", "local due = redis.call('ZRANGEBYSCORE', set_key[set], '-inf', now)", 'backlog', 'a_hundred_thousand_due_jobs_drain_without_error'),
 ('idle worker woken by enqueue', 'jobs/src/lua/enqueue.lua', '== #ready then wake() end', '== #ready then end', 'delivery', 'an_idle_worker_is_woken_by_a_new_job_not_by_its_poll'),
 ('redrive: fresh attempt budget', 'jobs/src/lua/redrive.lua', "'attempts', 0, 'deferrals', 0,", "'deferrals', 0,", 'delivery', 'dead_jobs_can_be_listed_redriven_and_purged'),
 ('purge dead deletes records', 'jobs/src/lua/purge_dead.lua', "for _, id in ipairs(ids) do redis.call('DEL', job_key(id)) end", '', 'delivery', 'dead_jobs_can_be_listed_redriven_and_purged'),
 ('forget leaves live jobs', 'jobs/src/lua/forget.lua', "if state == 'succeeded' or state == 'dead' then", 'if true then', 'delivery', 'finished_records_can_be_found_and_forgotten_live_ones_stay'),
 ('lease numbers never reissued', 'jobs/src/lua/claim.lua', "local top = redis.call('INCRBY', seq_key, 1)\n    if top <= 1 then top = redis.call('INCRBY', seq_key, now) end", 'local top = 1', 'fencing', 'a_stale_ack_cannot_overwrite_the_current_run'),
 ('a leased job reads active', 'jobs/src/lua/read.lua', "h[#h + 1] = 'active'", "h[#h + 1] = 'ready'", 'delivery', 'stats_match_the_stored_states_after_a_mixed_workload'),
 ('expired lease counts its attempt', 'jobs/src/lua/claim.lua', 'attempt = (tonumber(f[1]) or 0) + 1', 'attempt = (tonumber(f[1]) or 0)', 'processes', 'a_job_that_crashes_its_process_ends_dead_and_frees_its_unique_key'),
 ('fairness: claimed-ahead jobs handed back when the worker slows', 'jobs/src/backend.rs', '                    hand_back(&lane, spare.drain(..));\n                    prefetch.idle();', '                    prefetch.idle();', 'guarantees', 'a_fast_worker_hands_back_what_it_claimed_ahead_once_its_jobs_turn_slow'),
 ('summary and DEBUG job lines', 'jobs/src/backend.rs', '        crate::summary::log(&lane.queue, &lane.worker_id, lane.tally.take());\n    }\n}', '    }\n}', 'logs', 'job_lines_are_debug_with_an_info_summary_and_failures_at_warn'),
 ('fencing: per job within one claim', 'jobs/src/lua/ack.lua', 'if held[k] == 1 and not ended[id] then', "if redis.call('EXISTS', claim_key(ls)) == 1 and not ended[id] then", 'fencing', 'a_lease_is_per_job_even_when_one_claim_took_several'),
 ("upgrade: the previous layout's leases reaped", 'jobs/src/lua/claim.lua', '      local id = parse_member(m)\n      reap(id)', '', 'fencing', 'a_lease_of_the_previous_layout_is_reaped_after_an_upgrade')]
only = sys.argv[1:]
results = []
for i, (row, f, old, new, tb, tn) in enumerate(M):
    if only and str(i) not in only: continue
    src = open(f).read()
    n = src.count(old)
    if n != 1:
        results.append((i, row, f"BAD MUTATION count={n}")); print(results[-1], flush=True); continue
    # The line the README names: the first line of `old` that the mutation changes or removes.
    at = src.index(old)
    first = next((k for k, (a, b) in enumerate(zip(old.split('\n'), new.split('\n') + [None] * 99)) if a != b), 0)
    where = f"{f.removeprefix('jobs/')}:{src[:at].count(chr(10)) + 1 + first}"
    open(f, 'w').write(src.replace(old, new))
    try:
        # One integration-test binary (`it`), a module per area; --exact needs the module path.
        r = subprocess.run(['cargo', 'test', '-q', '-p', 'lifesync-jobs', '--test', 'it', '--', f'{tb}::{tn}', '--exact'],
                           env=env, capture_output=True, text=True, timeout=400)
        out = r.stdout + r.stderr
        if 'could not compile' in out or 'error[' in out:
            verdict = 'COMPILE ERROR'
        elif '0 passed; 1 failed' in out:
            verdict = 'test FAILS (good)'
        elif '1 passed; 0 failed' in out:
            verdict = 'test PASSES (needs a test)'
        else:
            verdict = 'TEST NOT RUN (name?) ' + out[-300:]
    except subprocess.TimeoutExpired:
        verdict = 'test timed out (fails, good)'
    finally:
        open(f, 'w').write(src)
    results.append((i, row, where, verdict)); print(results[-1], flush=True)
json.dump(results, sys.stdout, indent=1)
