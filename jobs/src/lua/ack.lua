-- ARGV: key base, queue, succeeded_ttl_s, dead_ttl_s, max_deferrals, count,
--       then per record: id, lease, outcome, delay_ms, error
-- outcome: s succeeded | r retry after delay_ms (dead when out of attempts)
--        | a retry-after requested by the job: delay_ms, no attempt spent
--        | x abort: dead at once | h hand back unstarted (no attempt spent)
--        | i interrupted by shutdown: back to ready, the attempt counts
-- A record whose lease is no longer current (the job was re-delivered, or this lease already
-- ended) is ignored: the lease is checked against the queue's `leases` hash, read once per
-- batch. The job's record gets the attempt number here, when the lease ends.
-- Successes are counted in time buckets (`succeeded:<bucket start s>`, bucket = retention / 60)
-- rather than indexed per job, so counting them costs O(1) per batch.
-- Returns the number of records applied.
local succ_ttl, dead_ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local succ_ttl_s = ARGV[3]
local max_deferrals, n = tonumber(ARGV[5]), tonumber(ARGV[6])
local applied, woke = 0, false
local done, finished, ended = 0, {}, {}
local ids = {}
for i = 0, n - 1 do ids[i + 1] = ARGV[7 + i * 5] end
local held = n > 0 and redis.call('HMGET', leases_key, unpack(ids)) or {}
for i = 0, n - 1 do
  local b = 7 + i * 5
  local id, lease, outcome, delay, err = ARGV[b], ARGV[b + 1], ARGV[b + 2], tonumber(ARGV[b + 3]), ARGV[b + 4]
  local current, attempts, _, uniq, attempts_s = parse_lease(held[i + 1])
  if current == lease and not ended[id] then
    ended[id] = true
    applied = applied + 1
    finished[#finished + 1] = id
    local jk = job_key(id)
    if outcome == 's' then
      redis.call('HSET', jk, 'state', 'succeeded', 'attempts', attempts_s, 'finished_ms', now_s)
      redis.call('EXPIRE', jk, succ_ttl_s)
      done = done + 1
      release_unique(uniq, id)
    elseif outcome == 'h' then
      -- The record's attempts were never raised for this lease.
      redis.call('HSET', jk, 'state', 'ready')
      redis.call('RPUSH', ready_key, id)
      woke = true
    else
      local f = redis.call('HMGET', jk, 'max_attempts', 'deferrals')
      local max_attempts = tonumber(f[1]) or 1
      redis.call('HSET', jk, 'attempts', attempts)
      if outcome == 'i' then
        push_history(jk, attempts, 'interrupted', err)
        if attempts >= max_attempts then
          bury(id, jk, uniq, dead_ttl)
        else
          redis.call('HSET', jk, 'state', 'ready')
          redis.call('RPUSH', ready_key, id)
          woke = true
        end
      elseif outcome == 'a' then
        local deferrals = tonumber(f[2] or '0') + 1
        push_history(jk, attempts, 'retry_after', err)
        if deferrals > max_deferrals then
          bury(id, jk, uniq, dead_ttl)
        else
          redis.call('HSET', jk, 'state', 'retrying', 'attempts', attempts - 1, 'deferrals', deferrals,
            'run_at_ms', now + delay)
          redis.call('ZADD', retrying_key, now + delay, id)
        end
      elseif outcome == 'r' then
        push_history(jk, attempts, 'failed', err)
        if attempts >= max_attempts then
          bury(id, jk, uniq, dead_ttl)
        else
          redis.call('HSET', jk, 'state', 'retrying', 'run_at_ms', now + delay)
          redis.call('ZADD', retrying_key, now + delay, id)
        end
      else -- 'x'
        push_history(jk, attempts, 'aborted', err)
        bury(id, jk, uniq, dead_ttl)
      end
    end
  end
end
if #finished > 0 then
  redis.call('ZREM', active_key, unpack(finished))
  redis.call('HDEL', leases_key, unpack(finished))
end
if done > 0 then
  local width = math.max(1, math.floor(succ_ttl / 60))
  local bucket = base .. 'succeeded:' .. (math.floor(now / 1000 / width) * width)
  redis.call('INCRBY', bucket, done)
  redis.call('EXPIRE', bucket, succ_ttl + width)
end
redis.call('ZREMRANGEBYSCORE', dead_key, '-inf', now - dead_ttl * 1000)
if woke then wake() end
return applied
