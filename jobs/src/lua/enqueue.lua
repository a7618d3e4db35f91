-- ARGV: prefix, queue, count, then per job: id, payload, max_attempts, delay_ms, unique_key ('' = none)
-- Returns a flat array: per job the id that now stands for it and 1 (created) or 0 (existing).
local n = tonumber(ARGV[3])
local out = {}
local pushed = 0
local live = { ready = true, scheduled = true, retrying = true, active = true }
redis.call('SADD', prefix .. ':queues', queue)
for i = 0, n - 1 do
  local b = 4 + i * 5
  local id, payload, max_attempts = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local delay, uniq = tonumber(ARGV[b + 3]), ARGV[b + 4]
  local jk = job_key(id)
  local existing = nil
  if redis.call('EXISTS', jk) == 1 then
    existing = id
  elseif uniq ~= '' then
    local uk = qk .. 'unique:' .. uniq
    local holder = redis.call('GET', uk)
    if holder and live[redis.call('HGET', job_key(holder), 'state')] then
      existing = holder
    else
      redis.call('SET', uk, id)
    end
  end
  if existing then
    out[#out + 1] = existing
    out[#out + 1] = 0
  else
    local state = 'ready'
    if delay > 0 then state = 'scheduled' end
    redis.call('HSET', jk, 'queue', queue, 'payload', payload, 'state', state,
      'attempts', 0, 'max_attempts', max_attempts, 'lease', 0, 'deferrals', 0,
      'unique', uniq, 'created_ms', now, 'run_at_ms', now + delay)
    if delay > 0 then
      redis.call('ZADD', qk .. 'scheduled', now + delay, id)
    else
      -- Only a list that was empty can have idle workers blocked on it.
      if redis.call('LPUSH', qk .. 'ready', id) == 1 then pushed = pushed + 1 end
    end
    out[#out + 1] = id
    out[#out + 1] = 1
  end
end
if pushed > 0 then wake() end
return out
