-- Prepended to every script (scripts are built as prelude .. [common ..] body; enqueue, the one
-- script a producer runs per call, gets no more than this). Every key of one queue shard carries
-- the shard's hash tag `{P:Q}` (shard 0) or `{P:Q:s}`, so a script touches one slot (Redis
-- Cluster). The shard's fixed keys come in KEYS, in this order (enqueue passes the first four):
--   1 ready, 2 fresh, 3 scheduled, 4 wake, 5 retrying, 6 active (previous layouts' leases),
--   7 leases (the layout before), 8 lease_seq, 9 dead, 10 claims
-- ARGV[1] is the shard's key base `{P:Q…}:` — the same tag — under which the keys named by ids
-- read inside the script live (`job:<id>`, `claim:<lease>`, `unique:<key>`, `succeeded:<t>`,
-- `done:<t>`): always the
-- declared keys' slot. ARGV[2] is the queue. See jobs/README.md for the layout.
local base, queue = ARGV[1], ARGV[2]
local ready_key, fresh_key, scheduled_key, wake_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local retrying_key, active_key, leases_key, seq_key, dead_key = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local claims_key = KEYS[10]
local function job_key(id) return base .. 'job:' .. id end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local now = now_ms()
-- A Lua number handed to redis.call or concatenated is formatted by sprintf each time (about a
-- microsecond apiece here), so what a script writes per job is passed as a string made once.
local now_s = string.format('%d', now)

-- A job enqueued with a generated id and no delay has no record until its first lease ends in
-- anything but success: its entry in the queue's `fresh` hash (field: id, value
-- `max_attempts \n unique \n created_ms \n payload`) is its record while it is ready or
-- leased for its first attempt. A claim reads it (one HMGET per batch) and leaves it; the ack of
-- a success moves it to the `done:<t>` bucket (one HSET and one HDEL per batch), any other end
-- turns it into a record (`materialize`).
local function fresh_entry(max_attempts, uniq, created, payload)
  return max_attempts .. '\n' .. uniq .. '\n' .. created .. '\n' .. payload
end
-- Wakes up to 64 idle workers blocked on the wake list.
local function wake()
  redis.call('LPUSH', wake_key, 1)
  redis.call('LTRIM', wake_key, 0, 63)
end
