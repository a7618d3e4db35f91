-- ARGV: key base, queue, (unused), count,
--       then per job: id, payload, max_attempts, delay_ms, unique_key ('' = none),
--       fixed_id (1: a deterministic id that may exist already; 0: a fresh ULID)
-- Returns a flat array: per job the id that now stands for it and 1 (created) or 0 (existing).
-- An immediate job with a generated id gets no record: its `fresh` entry (see `fresh_entry`)
-- stands for it until its first lease ends, so enqueueing it costs one field of a hash written
-- once per call. A delayed job, or one with a deterministic id (whose existence later enqueues
-- test with one EXISTS), gets its record; attempts and deferrals read as 0 until set.
local n = tonumber(ARGV[4])
local out = {}
local ready, fresh = {}, {}
local live = { ready = true, scheduled = true, retrying = true, active = true }
for i = 0, n - 1 do
  local b = 5 + i * 6
  local id, payload, max_attempts = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local delay, uniq, fixed = tonumber(ARGV[b + 3]), ARGV[b + 4], ARGV[b + 5] == '1'
  local jk = job_key(id)
  local existing = nil
  if fixed and redis.call('EXISTS', jk) == 1 then
    existing = id
  elseif uniq ~= '' then
    local uk = base .. 'unique:' .. uniq
    local holder = redis.call('GET', uk)
    -- A holder is live while its record says so or while it is fresh (ready or on its first
    -- lease); a finished one released the key, or its record is gone.
    if holder and (redis.call('HEXISTS', fresh_key, holder) == 1
        or live[redis.call('HGET', job_key(holder), 'state')]) then
      existing = holder
    else
      redis.call('SET', uk, id)
    end
  end
  if existing then
    out[#out + 1] = existing
    out[#out + 1] = 0
  else
    if delay > 0 or fixed then
      local fields = { 'queue', queue, 'payload', payload, 'state', 'ready',
        'max_attempts', max_attempts, 'created_ms', now_s }
      if uniq ~= '' then
        fields[#fields + 1] = 'unique'
        fields[#fields + 1] = uniq
      end
      if delay > 0 then
        fields[6] = 'scheduled'
        fields[#fields + 1] = 'run_at_ms'
        fields[#fields + 1] = now + delay
        redis.call('HSET', jk, unpack(fields))
        redis.call('ZADD', scheduled_key, now + delay, id)
      else
        redis.call('HSET', jk, unpack(fields))
        ready[#ready + 1] = id
      end
    else
      ready[#ready + 1] = id
      fresh[#fresh + 1] = id
      fresh[#fresh + 1] = fresh_entry(max_attempts, uniq, now_s, payload)
    end
    out[#out + 1] = id
    out[#out + 1] = 1
  end
end
-- One push for the whole batch; only a list that was empty can have idle workers blocked on it.
if #fresh > 0 then redis.call('HSET', fresh_key, unpack(fresh)) end
if #ready > 0 then
  if redis.call('LPUSH', ready_key, unpack(ready)) == #ready then wake() end
end
return out
