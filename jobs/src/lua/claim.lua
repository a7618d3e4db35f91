-- ARGV: key base, queue, worker_id, max_claim, lease_ms, batch, dead_ttl_s
-- Promotes due scheduled/retrying jobs and reaps expired leases (each bounded by `batch`),
-- then claims up to max_claim ready jobs for worker_id.
-- Returns { wait_ms, job, job, ... } where wait_ms is the time until the next scheduled, retrying
-- or lease-expiry event (-1: none) and each job one string (one reply element per job rather
-- than six: the worker's reply parser costs per element): a fresh job's
-- `<id length> <lease> f\n<id><its fresh entry>` (see `fresh_entry`: the worker reads
-- max_attempts and the payload from it, its attempt is the first), another's
-- `<id length> <lease> <attempt> <max_attempts> <deferrals>\n<id><payload>`.
-- Claimed ids go to the set `claim:<lease>`, the claim to `claims` by its deadline (see
-- `claim_key`); nothing of the job is written: a fresh job's `fresh` entry stays its record,
-- another's record keeps the attempts of its ended leases (so a leased job's attempt is one more).
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

-- Ends an expired lease of job `id`, which ran as `attempt` (nil: one more than its record
-- holds) under worker `by` (nil: unknown): its attempt is counted and the job goes back to ready,
-- or to the dead letters when that was its last.
local function reap(id, attempt, by)
  local jk = job_key(id)
  local max_attempts, uniq, created, payload = parse_fresh(redis.call('HGET', fresh_key, id))
  if payload then
    materialize(jk, max_attempts, uniq, created, payload)
    redis.call('HDEL', fresh_key, id)
  end
  local f = redis.call('HMGET', jk, 'attempts', 'max_attempts', 'unique', 'lock_by')
  if not attempt then
    attempt = (tonumber(f[1]) or 0) + 1
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

-- Claims whose deadline passed: every job still in the claim's set.
local expired_claims = redis.call('ZRANGEBYSCORE', claims_key, '-inf', now, 'LIMIT', 0, batch)
if #expired_claims > 0 then
  redis.call('ZREM', claims_key, unpack(expired_claims))
  for _, ls in ipairs(expired_claims) do
    local ck = claim_key(ls)
    local ids = redis.call('SMEMBERS', ck)
    redis.call('DEL', ck)
    for _, id in ipairs(ids) do reap(id) end
  end
end

-- Leases of the layouts before (after an upgrade).
local expired = redis.call('ZRANGEBYSCORE', active_key, '-inf', now, 'LIMIT', 0, batch)
if #expired > 0 then
  redis.call('ZREM', active_key, unpack(expired))
  -- The layout before the previous: the member is the bare id, its entry in the `leases` hash.
  local held = redis.call('HMGET', leases_key, unpack(expired))
  for i, m in ipairs(expired) do
    if held[i] then
      redis.call('HDEL', leases_key, m)
      local _, a, w = parse_lease(held[i])
      reap(m, a, w)
    elseif parse_member(m) then
      -- The previous layout: `<id> <lease>`; the record holds the attempts of ended leases.
      local id = parse_member(m)
      reap(id)
    else
      -- A bare id without a `leases` entry: the oldest layout, whose claim raised the record's
      -- attempts.
      local f = redis.call('HMGET', job_key(m), 'attempts', 'lock_by')
      reap(m, tonumber(f[1]) or 0, f[2])
    end
  end
end

local out = { -1 }
if max_claim > 0 then
  local ids = redis.call('RPOP', ready_key, max_claim)
  if ids then
    local deadline = string.format('%d', now + lease_ms)
    -- One lease number per claim call, from one counter per queue shard, so none is ever issued
    -- twice and a job claimed again (its lease expired, or it was handed back) gets a higher
    -- one: the job's id in the set `claim:<lease>` names this claim of this job. The counter
    -- starts at the clock (ms) so its numbers exceed the per-record numbers of layouts before.
    local top = redis.call('INCRBY', seq_key, 1)
    if top <= 1 then top = redis.call('INCRBY', seq_key, now) end
    local ls = string.format('%d', top)
    local leased, taken, nl, nt, no = {}, {}, 0, 0, 1
    -- Id lengths as strings, each formatted once (ids of one kind share a length).
    local lens = {}
    local fresh = redis.call('HMGET', fresh_key, unpack(ids))
    for i, id in ipairs(ids) do
      local e = fresh[i]
      local head
      if e and is_fresh(e) then
        -- A fresh job runs its first attempt; the worker reads max_attempts and the payload
        -- from the entry itself (`f`), so nothing of it is parsed here.
        head = ' f\n'
      else
        local f = redis.call('HMGET', job_key(id), 'payload', 'attempts', 'max_attempts', 'deferrals')
        -- An entry of the previous layout (beside a record) goes with its first claim.
        local old = old_fresh_payload(e)
        if old then
          nt = nt + 1
          taken[nt] = id
          f[1] = f[1] or old
        end
        if f[1] then
          -- One attempt more than its record holds.
          head = ' ' .. string.format('%d', (tonumber(f[2]) or 0) + 1) .. ' ' .. (f[3] or '1')
            .. ' ' .. (f[4] or '0') .. '\n'
          e = f[1]
        end
      end
      if head then
        nl = nl + 1
        leased[nl] = id
        local n = #id
        local len = lens[n]
        if not len then
          len = string.format('%d', n)
          lens[n] = len
        end
        no = no + 1
        out[no] = len .. ' ' .. ls .. head .. id .. e
      end
    end
    if nt > 0 then redis.call('HDEL', fresh_key, unpack(taken)) end
    if nl > 0 then
      redis.call('SADD', claim_key(ls), unpack(leased))
      redis.call('ZADD', claims_key, deadline, ls)
    end
  end
  -- More is ready than this worker took: wake another idle worker (a chain of wake-ups).
  if redis.call('LLEN', ready_key) > 0 then wake() end
end

local next_at = nil
for _, set in ipairs({ 'scheduled', 'retrying', 'active', 'claims' }) do
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
