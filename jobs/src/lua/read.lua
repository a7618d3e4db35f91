-- ARGV: key base, queue, succeeded_ttl_s, then job ids (of this queue shard)
-- Reads job records for admin views and tests: per id the record's fields as a flat array
-- (empty when the record is gone), with `state` active and `attempts` the lease's attempt when
-- the job is leased now (in the set of a claim, all read once per call: see `leased_now`). A
-- fresh job's fields come from its `fresh` entry, a fresh job's success from its `done:<t>`
-- bucket.
local leased = leased_now()
local buckets = done_buckets(tonumber(ARGV[3]))
local out = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local h = redis.call('HGETALL', job_key(id))
  local attempts_now = nil
  if #h > 0 then
    for k = 1, #h, 2 do
      if h[k] == 'attempts' then attempts_now = tonumber(h[k + 1]) end
    end
  else
    local max_attempts, uniq, created, payload = parse_fresh(redis.call('HGET', fresh_key, id))
    if payload then
      h = { 'queue', queue, 'payload', payload, 'state', 'ready', 'max_attempts', max_attempts,
        'created_ms', created }
      if uniq ~= '' then
        h[#h + 1] = 'unique'
        h[#h + 1] = uniq
      end
    else
      for _, dk in ipairs(buckets) do
        local attempts, finished, created2, max2, uniq2, payload2 = parse_done(redis.call('HGET', dk, id))
        if payload2 then
          h = { 'queue', queue, 'payload', payload2, 'state', 'succeeded', 'attempts', attempts,
            'max_attempts', max2, 'created_ms', created2, 'finished_ms', finished }
          if uniq2 ~= '' then
            h[#h + 1] = 'unique'
            h[#h + 1] = uniq2
          end
          break
        end
      end
    end
  end
  if #h > 0 and leased[id] then
    h[#h + 1] = 'state'
    h[#h + 1] = 'active'
    h[#h + 1] = 'attempts'
    h[#h + 1] = tostring((attempts_now or 0) + 1)
  end
  out[#out + 1] = h
end
return out
