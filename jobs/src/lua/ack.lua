-- ARGV: key base, queue, succeeded_ttl_s, dead_ttl_s, max_deferrals, then groups of records
-- under one lease: lease, n_succeeded, n_other, the ids of the n_succeeded successes, then
-- n_other records of id, outcome, delay_ms, error, where outcome is
--          r retry after delay_ms (dead when out of attempts)
--        | a retry-after requested by the job: delay_ms, no attempt spent
--        | x abort: dead at once | h hand back unstarted (no attempt spent)
--        | i interrupted by shutdown: back to ready, the attempt counts
-- A record whose lease is no longer current (the job was re-delivered, or this lease already
-- ended) is ignored: its id must still be in the set of the claim that leased it (see
-- `claim_key`), checked with one SMISMEMBER per group. The job's record gets the attempt number
-- here, when the lease ends: a fresh job (see `fresh_entry`) runs its first attempt; another job
-- one more than its record holds.
-- A fresh job's success writes nothing of its own: its `fresh` entry, copied whole, becomes a
-- field of the `done:<t>` bucket (one HSET, one HDEL and one EXPIRE per batch), so a success
-- costs no per-job command. Successes are also counted in the `succeeded:<t>` buckets (t = bucket start
-- in s, bucket = retention / 60), so counting them costs O(1) per batch.
-- Returns the number of records applied.
local succ_ttl, dead_ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local succ_ttl_s = ARGV[3]
local max_deferrals = tonumber(ARGV[5])
local applied, woke = 0, false
local done, ended = 0, {}
-- Per record: its id, the index of its outcome in ARGV (nil: a success) and whether its lease
-- is current; per group: its lease and the ids whose lease ends here.
local ids, at, current, n = {}, {}, {}, 0
local a = 6
while ARGV[a] do
  local ls, ns, no = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local first, group = n + 1, {}
  a = a + 3
  for k = 1, ns do
    group[k] = ARGV[a]
    n = n + 1
    ids[n] = ARGV[a]
    a = a + 1
  end
  for k = 1, no do
    group[ns + k] = ARGV[a]
    n = n + 1
    ids[n], at[n] = ARGV[a], a + 1
    a = a + 4
  end
  if ns + no > 0 then
    local held = redis.call('SMISMEMBER', claim_key(ls), unpack(group))
    local ending, ne = {}, 0
    for k = 1, ns + no do
      local id = group[k]
      if held[k] == 1 and not ended[id] then
        ended[id] = true
        current[first + k - 1] = true
        ne = ne + 1
        ending[ne] = id
      end
    end
    if ne > 0 then end_leases(ls, ending) end
  end
end
if n == 0 then return 0 end
local fresh = redis.call('HMGET', fresh_key, unpack(ids))
local done_args, gone, nd, ng = {}, {}, 0, 0
for i = 1, n do
  local b, id = at[i], ids[i]
  local outcome = b and ARGV[b] or 's'
  if current[i] then
    applied = applied + 1
    local e = fresh[i]
    local uniq = outcome == 's' and e and fresh_unique(e)
    if uniq then
      -- A fresh job's success: its entry goes to the done bucket as it is.
      done_args[nd + 1] = id
      done_args[nd + 2] = done_entry('1', e)
      nd = nd + 2
      ng = ng + 1
      gone[ng] = id
      done = done + 1
      release_unique(uniq, id)
    else
      local delay, err = tonumber(b and ARGV[b + 1]), b and ARGV[b + 2] or ''
      local jk = job_key(id)
      local max_attempts, created, payload
      max_attempts, uniq, created, payload = parse_fresh(e)
      if outcome == 'h' then
        -- No attempt was spent: a fresh job stays fresh, a record keeps its attempts.
        if not payload then redis.call('HSET', jk, 'state', 'ready') end
        redis.call('RPUSH', ready_key, id)
        woke = true
      else
        if payload then
          materialize(jk, max_attempts, uniq, created, payload)
          ng = ng + 1
          gone[ng] = id
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
end
if ng > 0 then redis.call('HDEL', fresh_key, unpack(gone)) end
if done > 0 then
  local width = bucket_width(succ_ttl)
  local start = string.format('%d', math.floor(now / 1000 / width) * width)
  local ttl = succ_ttl + width
  if nd > 0 then
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
