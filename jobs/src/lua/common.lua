-- Shared helpers, prepended to every script (scripts are built as common .. body).
-- Every key of one queue shard carries the shard's hash tag `{P:Q}` (shard 0) or `{P:Q:s}`, so
-- a script touches one slot (Redis Cluster). The shard's fixed keys come in KEYS:
--   1 ready, 2 fresh, 3 scheduled, 4 retrying, 5 active, 6 leases, 7 lease_seq, 8 dead, 9 wake
-- ARGV[1] is the shard's key base `{P:Q…}:` — the same tag — under which the keys named by ids
-- read inside the script live (`job:<id>`, `unique:<key>`, `succeeded:<t>`): always the
-- declared keys' slot. ARGV[2] is the queue. See jobs/README.md for the layout.
local base, queue = ARGV[1], ARGV[2]
local ready_key, fresh_key, scheduled_key, retrying_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local active_key, leases_key, seq_key, dead_key, wake_key = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local set_key = { scheduled = scheduled_key, retrying = retrying_key, active = active_key, dead = dead_key }
local function job_key(id) return base .. 'job:' .. id end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local now = now_ms()
-- A Lua number handed to redis.call or concatenated is formatted by sprintf each time (about a
-- microsecond apiece here), so what a script writes per job is passed as a string made once.
local now_s = string.format('%d', now)

-- A lease's entry in the queue's `leases` hash (field: job id): lease number, attempt, time it
-- was taken, worker, and the job's unique key. Kept here rather than in the job's record so a
-- claim, a heartbeat and an ack touch one hash per batch instead of one record per job.
local function lease_entry(lease, attempt, worker, uniq)
  return lease .. ' ' .. attempt .. ' ' .. now_s .. ' ' .. worker .. '\n' .. (uniq or '')
end
-- Returns lease (string), attempt (number), worker, unique key ('' = none), attempt (as
-- stored, a string); nil for no entry.
local function parse_lease(e)
  if not e then return nil end
  local l, a, w, u = string.match(e, '^(%d+) (%d+) %d+ ([^\n]*)\n(.*)$')
  return l, tonumber(a), w, u, a
end

-- A job never run yet has what its first claim needs in the queue's `fresh` hash (field: id,
-- value `max_attempts \n unique \n payload`), written by enqueue and taken by that claim with
-- one HMGET and one HDEL per batch, so claiming it reads no record.
local function fresh_entry(max_attempts, uniq, payload)
  return max_attempts .. '\n' .. uniq .. '\n' .. payload
end
-- Returns max_attempts, unique, payload; nil for no entry.
local function parse_fresh(e)
  if not e then return nil end
  return string.match(e, '^(%d+)\n([^\n]*)\n(.*)$')
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

-- Wakes up to 64 idle workers blocked on the wake list.
local function wake()
  redis.call('LPUSH', wake_key, 1)
  redis.call('LTRIM', wake_key, 0, 63)
end
