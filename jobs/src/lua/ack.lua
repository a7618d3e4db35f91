-- ARGV: key base, queue, succeeded_ttl_s, dead_ttl_s, max_deferrals, count,
--       then per record: id, lease, outcome, delay_ms, error
-- outcome: s succeeded | r retry after delay_ms (dead when out of attempts)
--        | a retry-after requested by the job: delay_ms, no attempt spent
--        | x abort: dead at once | h hand back unstarted (no attempt spent)
--        | i interrupted by shutdown: back to ready, the attempt counts
-- A record whose lease is no longer current (the job was re-delivered, or this lease already
-- ended) is ignored: its member `<id> <lease>` must still be in the active set, checked for the
-- whole batch with one ZMSCORE. The job's record gets the attempt number here, when the lease
-- ends: a fresh job (see `fresh_entry`) runs its first attempt; another job one more than its
-- record holds.
-- A fresh job's success writes nothing of its own: its `fresh` entry becomes a field of the
-- `done:<t>` bucket (one HSET, one HDEL and one EXPIRE per batch), so a success costs no
-- per-job command. Successes are also counted in the `succeeded:<t>` buckets (t = bucket start
-- in s, bucket = retention / 60), so counting them costs O(1) per batch.
-- Returns the number of records applied.
local succ_ttl, dead_ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local succ_ttl_s = ARGV[3]
local max_deferrals, n = tonumber(ARGV[5]), tonumber(ARGV[6])
local applied, woke = 0, false
local done, finished, ended = 0, {}, {}
local ids, members = {}, {}
for i = 0, n - 1 do
  ids[i + 1] = ARGV[7 + i * 5]
  members[i + 1] = lease_member(ARGV[7 + i * 5], ARGV[8 + i * 5])
end
if n == 0 then return 0 end
local current = redis.call('ZMSCORE', active_key, unpack(members))
local fresh = redis.call('HMGET', fresh_key, unpack(ids))
local done_args, gone = {}, {}
for i = 0, n - 1 do
  local b = 7 + i * 5
  local id, outcome, delay, err = ARGV[b], ARGV[b + 2], tonumber(ARGV[b + 3]), ARGV[b + 4]
  if current[i + 1] and not ended[id] then
    ended[id] = true
    applied = applied + 1
    finished[#finished + 1] = members[i + 1]
    local jk = job_key(id)
    local max_attempts, uniq, created, payload = parse_fresh(fresh[i + 1])
    if payload and outcome == 's' then
      done_args[#done_args + 1] = id
      done_args[#done_args + 1] = done_entry('1', created, max_attempts, uniq, payload)
      gone[#gone + 1] = id
      done = done + 1
      release_unique(uniq, id)
    elseif outcome == 'h' then
      -- No attempt was spent: a fresh job stays fresh, a record keeps its attempts.
      if not payload then redis.call('HSET', jk, 'state', 'ready') end
      redis.call('RPUSH', ready_key, id)
      woke = true
    else
      if payload then
        materialize(jk, max_attempts, uniq, created, payload)
        gone[#gone + 1] = id
      end
      local f = redis.call('HMGET', jk, 'attempts', 'max_attempts', 'deferrals', 'unique')
      local attempts = (tonumber(f[1]) or 0) + 1
      local max_att = tonumber(f[2]) or 1
      uniq = f[4]
      if outcome == 's' then
        redis.call('HSET', jk, 'state', 'succeeded', 'attempts', attempts, 'finished_ms', now_s)
        redis.call('EXPIRE', jk, succ_ttl_s)
        done = done + 1
        release_unique(uniq, id)
      else
        redis.call('HSET', jk, 'attempts', attempts)
        if outcome == 'i' then
          push_history(jk, attempts, 'interrupted', err)
          if attempts >= max_att then
            bury(id, jk, uniq, dead_ttl)
          else
            redis.call('HSET', jk, 'state', 'ready')
            redis.call('RPUSH', ready_key, id)
            woke = true
          end
        elseif outcome == 'a' then
          local deferrals = tonumber(f[3] or '0') + 1
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
          if attempts >= max_att then
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
end
if #finished > 0 then redis.call('ZREM', active_key, unpack(finished)) end
if #gone > 0 then redis.call('HDEL', fresh_key, unpack(gone)) end
if done > 0 then
  local width = bucket_width(succ_ttl)
  local start = string.format('%d', math.floor(now / 1000 / width) * width)
  local ttl = succ_ttl + width
  if #done_args > 0 then
    local dk = base .. 'done:' .. start
    redis.call('HSET', dk, unpack(done_args))
    redis.call('EXPIRE', dk, ttl)
  end
  local bucket = base .. 'succeeded:' .. start
  redis.call('INCRBY', bucket, done)
  redis.call('EXPIRE', bucket, ttl)
end
redis.call('ZREMRANGEBYSCORE', dead_key, '-inf', now - dead_ttl * 1000)
if woke then wake() end
return applied
