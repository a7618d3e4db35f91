-- ARGV: key base, queue, worker_id, max_claim, lease_ms, batch, dead_ttl_s
-- Promotes due scheduled/retrying jobs and reaps expired leases (each bounded by `batch`),
-- then claims up to max_claim ready jobs for worker_id.
-- Returns { wait_ms, job, job, ... } where wait_ms is the time until the next scheduled, retrying
-- or lease-expiry event (-1: none) and each job one string,
-- `<id length> <lease> <attempt> <max_attempts> <deferrals>\n<id><payload>`: one reply element
-- per job rather than six (the worker's reply parser costs per element).
-- A claimed job's lease is its member `<id> <lease>` of the active set (see `lease_member`);
-- nothing of the job is written: a fresh job's `fresh` entry stays its record, another job's
-- record keeps the attempts of its ended leases (so a leased job's attempt is one more).
local worker, max_claim = ARGV[3], tonumber(ARGV[4])
local lease_ms, batch, dead_ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])

-- Index entries of expired dead records go with them (O(log n) when there is nothing to trim).
redis.call('ZREMRANGEBYSCORE', dead_key, '-inf', now - dead_ttl * 1000)

for _, set in ipairs({ 'scheduled', 'retrying' }) do
  local due = redis.call('ZRANGEBYSCORE', set_key[set], '-inf', now, 'LIMIT', 0, batch)
  if #due > 0 then
    redis.call('ZREM', set_key[set], unpack(due))
    for _, id in ipairs(due) do redis.call('HSET', job_key(id), 'state', 'ready') end
    redis.call('RPUSH', ready_key, unpack(due))
  end
end

local expired = redis.call('ZRANGEBYSCORE', active_key, '-inf', now, 'LIMIT', 0, batch)
if #expired > 0 then
  redis.call('ZREM', active_key, unpack(expired))
  -- Leases of the previous layout: the member is the bare id, its entry in the `leases` hash.
  local held = redis.call('HMGET', leases_key, unpack(expired))
  for i, m in ipairs(expired) do
    local id, attempt, by = m, nil, nil
    if held[i] then
      redis.call('HDEL', leases_key, m)
      local _, a, w = parse_lease(held[i])
      attempt, by = a, w
    else
      id = parse_member(m) or m
    end
    local jk = job_key(id)
    local max_attempts, uniq, created, payload = parse_fresh(redis.call('HGET', fresh_key, id))
    if payload then
      materialize(jk, max_attempts, uniq, created, payload)
      redis.call('HDEL', fresh_key, id)
    end
    local f = redis.call('HMGET', jk, 'attempts', 'max_attempts', 'unique', 'lock_by')
    if not attempt then
      -- This layout: the record holds the attempts of ended leases. A bare id without a
      -- `leases` entry: the oldest layout, whose claim raised the record's attempts.
      attempt = (tonumber(f[1]) or 0) + ((parse_member(m) and 1) or 0)
      by = f[4]
    end
    if f[2] then
      push_history(jk, attempt, 'lease_expired',
        'lease expired: ' .. (by and ('worker ' .. by) or 'its worker') .. ' lost')
      redis.call('HSET', jk, 'attempts', attempt)
      if attempt >= tonumber(f[2]) then
        bury(id, jk, f[3], dead_ttl)
      else
        redis.call('HSET', jk, 'state', 'ready')
        redis.call('RPUSH', ready_key, id)
      end
    end
  end
end

local out = { -1 }
if max_claim > 0 then
  local ids = redis.call('RPOP', ready_key, max_claim)
  if ids then
    local deadline = string.format('%d', now + lease_ms)
    -- Lease numbers come from one counter per queue, so none is ever issued twice; it starts
    -- at the clock (ms) so they all exceed the per-record numbers of the previous layouts.
    local seq = seq_key
    local top = redis.call('INCRBY', seq, #ids)
    if top <= #ids then top = redis.call('INCRBY', seq, now) end
    local lease = top - #ids
    local zargs, taken = {}, {}
    -- Id lengths as strings, each formatted once (ids of one kind share a length).
    local lens = {}
    local fresh = redis.call('HMGET', fresh_key, unpack(ids))
    for i, id in ipairs(ids) do
      local max_attempts, _, _, payload = parse_fresh(fresh[i])
      local f
      if payload then
        f = { payload, false, max_attempts, '0' }
      else
        f = redis.call('HMGET', job_key(id), 'payload', 'attempts', 'max_attempts', 'deferrals')
        -- An entry of the previous layout (beside a record) goes with its first claim.
        local old = old_fresh_payload(fresh[i])
        if old then
          taken[#taken + 1] = id
          f[1] = f[1] or old
        end
      end
      if f[1] then
        -- A fresh job runs its first attempt; another one more than its record holds.
        local attempt = '1'
        if f[2] ~= false then attempt = string.format('%d', (tonumber(f[2]) or 0) + 1) end
        lease = lease + 1
        local ls = string.format('%d', lease)
        zargs[#zargs + 1] = deadline
        zargs[#zargs + 1] = lease_member(id, ls)
        local n = #id
        local len = lens[n]
        if not len then
          len = string.format('%d', n)
          lens[n] = len
        end
        out[#out + 1] = len .. ' ' .. ls .. ' ' .. attempt .. ' ' .. (f[3] or '1') .. ' '
          .. (f[4] or '0') .. '\n' .. id .. f[1]
      end
    end
    if #taken > 0 then redis.call('HDEL', fresh_key, unpack(taken)) end
    if #zargs > 0 then redis.call('ZADD', active_key, unpack(zargs)) end
  end
  -- More is ready than this worker took: wake another idle worker (a chain of wake-ups).
  if redis.call('LLEN', ready_key) > 0 then wake() end
end

local next_at = nil
for _, set in ipairs({ 'scheduled', 'retrying', 'active' }) do
  local first = redis.call('ZRANGE', set_key[set], 0, 0, 'WITHSCORES')
  if first[2] then
    local at = tonumber(first[2])
    if next_at == nil or at < next_at then next_at = at end
  end
end
if next_at ~= nil then
  out[1] = math.max(0, next_at - now)
end
return out
