-- Helpers of the scripts that move jobs after enqueue, prepended (after `prelude.lua`) to every
-- script but enqueue's.
local set_key = { scheduled = scheduled_key, retrying = retrying_key, active = active_key, dead = dead_key,
  claims = claims_key }

-- A lease belongs to one claim call: the call's lease number `ls` (see claim.lua) is a member of
-- the queue's `claims` set scored by the claim's deadline, and the ids it leased are the members
-- of the set `claim:<ls>`. A heartbeat renews the claim's deadline while any of its ids is
-- still in its set; an ack applies only while the job's id is in the set of the lease it names
-- (`SMISMEMBER`: a stale ack or heartbeat, whose job was reaped or handed back and leased again
-- under a new number, names a set without it), then removes it; the claim's member goes with
-- its last id. Everything is per batch and per claim, not per job.
local function claim_key(ls) return base .. 'claim:' .. ls end
-- Ends the lease of `ids` under claim `ls`: out of its set, and the claim out of `claims` once
-- its set is empty (Redis deletes an empty set).
local function end_leases(ls, ids)
  local ck = claim_key(ls)
  redis.call('SREM', ck, unpack(ids))
  if redis.call('EXISTS', ck) == 0 then redis.call('ZREM', claims_key, ls) end
end

-- The two layouts before: a member `<id> <lease number>` of the `active` set, scored by its
-- deadline (the previous one), or a bare id there (the one before). Only reaped now.
-- Returns id and lease (string) of a member; nil for a bare id (a layout before this one).
local function parse_member(m) return string.match(m, '^(.*) (%d+)$') end

-- The previous layout's entry in the queue's `leases` hash (field: job id): lease number,
-- attempt, time taken, worker, and the job's unique key. Only reaped now (after an upgrade).
-- Returns lease (string), attempt (number), worker, unique key; nil for no entry.
local function parse_lease(e)
  if not e then return nil end
  local l, a, w, u = string.match(e, '^(%d+) (%d+) %d+ ([^\n]*)\n(.*)$')
  return l, tonumber(a), w, u
end

-- A `fresh` entry (see `fresh_entry` in prelude.lua) as max_attempts, unique, created_ms,
-- payload; nil for no entry or an entry of the previous layout (`max_attempts \n unique \n
-- payload`, written beside a record).
local function parse_fresh(e)
  if not e then return nil end
  return string.match(e, '^(%d+)\n([^\n]*)\n(%d+)\n(.*)$')
end
-- The unique key of a `fresh` entry of this layout ('' for none; nil for another layout),
-- read without copying the payload.
local function fresh_unique(e)
  return string.match(e, '^%d+\n([^\n]*)\n%d+\n')
end
-- Whether a `fresh` entry is of this layout (with `created_ms`).
local function is_fresh(e) return fresh_unique(e) ~= nil end
-- The payload of a previous layout's entry (its job has a record); nil otherwise.
local function old_fresh_payload(e)
  if not e or is_fresh(e) then return nil end
  return string.match(e, '^%d+\n[^\n]*\n(.*)$')
end

-- Writes a fresh job's record as enqueue used to (its `fresh` entry is left to the caller).
local function materialize(jk, max_attempts, uniq, created, payload)
  local fields = { 'queue', queue, 'payload', payload, 'state', 'ready',
    'max_attempts', max_attempts, 'created_ms', created }
  if uniq ~= '' then
    fields[#fields + 1] = 'unique'
    fields[#fields + 1] = uniq
  end
  redis.call('HSET', jk, unpack(fields))
end

-- Successes of fresh jobs are kept per time bucket: `done:<t>` (hash, field: id, value
-- `d \n attempts \n finished_ms \n <the job's fresh entry>`, so an ack copies the entry whole
-- instead of parsing it; the previous layout, without the `d` line, was `attempts \n finished_ms
-- \n created_ms \n max_attempts \n unique \n payload`), t and expiry as the `succeeded:<t>`
-- counters. `done_buckets(succ_ttl)` lists the keys that may hold one.
local function bucket_width(succ_ttl) return math.max(1, math.floor(succ_ttl / 60)) end
local function done_entry(attempts, fresh) return 'd\n' .. attempts .. '\n' .. now_s .. '\n' .. fresh end
-- attempts, finished_ms, created_ms, max_attempts, unique, payload; nil for no entry.
local function parse_done(e)
  if not e then return nil end
  if string.byte(e, 1) == 100 then -- 'd'
    local a, f, m, u, c, p = string.match(e, '^d\n(%d+)\n(%d+)\n(%d+)\n([^\n]*)\n(%d+)\n(.*)$')
    return a, f, c, m, u, p
  end
  return string.match(e, '^(%d+)\n(%d+)\n(%d+)\n(%d+)\n([^\n]*)\n(.*)$')
end
local function done_buckets(succ_ttl)
  local width = bucket_width(succ_ttl)
  local now_sec = math.floor(now / 1000)
  local start = math.floor(now_sec / width) * width
  local keys = {}
  while start + width > now_sec - succ_ttl and #keys < 62 do
    local k = base .. 'done:' .. string.format('%d', start)
    if redis.call('EXISTS', k) == 1 then keys[#keys + 1] = k end
    start = start - width
  end
  return keys
end

-- The leases held now, as id -> lease (`{ claim number }`, or `{ nil, member }` for a member of
-- the `active` set of a layout before), read from every claim's set (for admin paths: O(jobs
-- leased)).
local function leased_now()
  local map = {}
  for _, m in ipairs(redis.call('ZRANGE', active_key, 0, -1)) do
    local id = parse_member(m)
    map[id or m] = { nil, m }
  end
  for _, ls in ipairs(redis.call('ZRANGE', claims_key, 0, -1)) do
    for _, id in ipairs(redis.call('SMEMBERS', claim_key(ls))) do map[id] = { ls } end
  end
  return map
end
-- Ends one lease found by `leased_now`.
local function end_lease(lease, id)
  if lease[1] then
    end_leases(lease[1], { id })
  else
    redis.call('ZREM', active_key, lease[2])
  end
end

-- Releases a unique key, but only while it still points at this job.
local function release_unique(uniq, id)
  if uniq and uniq ~= '' then
    local uk = base .. 'unique:' .. uniq
    if redis.call('GET', uk) == id then redis.call('DEL', uk) end
  end
end

-- Appends one entry to the job's attempt history (kept to the last 25).
local function push_history(jk, attempt, kind, err)
  local raw = redis.call('HGET', jk, 'history')
  local h = {}
  if raw and raw ~= '' then h = cjson.decode(raw) end
  h[#h + 1] = { attempt = tonumber(attempt) or 0, kind = kind, error = err, at_ms = now }
  while #h > 25 do table.remove(h, 1) end
  redis.call('HSET', jk, 'history', cjson.encode(h), 'last_error', err)
end

-- Moves a job to the dead-letter set: kept for dead_ttl seconds, unique key released.
local function bury(id, jk, uniq, dead_ttl)
  redis.call('HSET', jk, 'state', 'dead', 'finished_ms', now)
  redis.call('ZADD', dead_key, now, id)
  redis.call('EXPIRE', jk, dead_ttl)
  release_unique(uniq, id)
end
