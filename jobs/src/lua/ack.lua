-- ARGV: prefix, queue, succeeded_ttl_s, dead_ttl_s, max_deferrals, count,
--       then per record: id, lease, outcome, delay_ms, error
-- outcome: s succeeded | r retry after delay_ms (dead when out of attempts)
--        | a retry-after requested by the job: delay_ms, no attempt spent
--        | x abort: dead at once | h hand back unstarted (no attempt spent)
--        | i interrupted by shutdown: back to ready, the attempt counts
-- A record whose lease is no longer current (the job was re-delivered) is ignored.
-- Successes are counted in time buckets (`succeeded:<bucket start s>`, bucket = retention / 60)
-- rather than indexed per job, so counting them costs O(1) per batch.
-- Returns the number of records applied.
local succ_ttl, dead_ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local max_deferrals, n = tonumber(ARGV[5]), tonumber(ARGV[6])
local applied, woke = 0, false
local done, finished = 0, {}
for i = 0, n - 1 do
  local b = 7 + i * 5
  local id, lease, outcome, delay, err = ARGV[b], ARGV[b + 1], ARGV[b + 2], tonumber(ARGV[b + 3]), ARGV[b + 4]
  local jk = job_key(id)
  local f = redis.call('HMGET', jk, 'lease', 'state', 'unique', 'attempts', 'max_attempts', 'deferrals')
  if f[1] == lease and f[2] == 'active' then
    applied = applied + 1
    finished[#finished + 1] = id
    local attempts, max_attempts = tonumber(f[4]), tonumber(f[5])
    if outcome == 's' then
      redis.call('HSET', jk, 'state', 'succeeded', 'finished_ms', now)
      redis.call('EXPIRE', jk, succ_ttl)
      done = done + 1
      release_unique(f[3], id)
    elseif outcome == 'h' then
      redis.call('HSET', jk, 'state', 'ready', 'attempts', attempts - 1)
      redis.call('RPUSH', qk .. 'ready', id)
      woke = true
    elseif outcome == 'i' then
      push_history(jk, attempts, 'interrupted', err)
      if attempts >= max_attempts then
        bury(id, jk, f[3], dead_ttl)
      else
        redis.call('HSET', jk, 'state', 'ready')
        redis.call('RPUSH', qk .. 'ready', id)
        woke = true
      end
    elseif outcome == 'a' then
      local deferrals = tonumber(f[6] or '0') + 1
      push_history(jk, attempts, 'retry_after', err)
      if deferrals > max_deferrals then
        bury(id, jk, f[3], dead_ttl)
      else
        redis.call('HSET', jk, 'state', 'retrying', 'attempts', attempts - 1, 'deferrals', deferrals,
          'run_at_ms', now + delay)
        redis.call('ZADD', qk .. 'retrying', now + delay, id)
      end
    elseif outcome == 'r' then
      push_history(jk, attempts, 'failed', err)
      if attempts >= max_attempts then
        bury(id, jk, f[3], dead_ttl)
      else
        redis.call('HSET', jk, 'state', 'retrying', 'run_at_ms', now + delay)
        redis.call('ZADD', qk .. 'retrying', now + delay, id)
      end
    else -- 'x'
      push_history(jk, attempts, 'aborted', err)
      bury(id, jk, f[3], dead_ttl)
    end
  end
end
if #finished > 0 then redis.call('ZREM', qk .. 'active', unpack(finished)) end
if done > 0 then
  local width = math.max(1, math.floor(succ_ttl / 60))
  local bucket = qk .. 'succeeded:' .. (math.floor(now / 1000 / width) * width)
  redis.call('INCRBY', bucket, done)
  redis.call('EXPIRE', bucket, succ_ttl + width)
end
redis.call('ZREMRANGEBYSCORE', qk .. 'dead', '-inf', now - dead_ttl * 1000)
if woke then wake() end
return applied
