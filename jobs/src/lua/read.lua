-- ARGV: key base, queue, then job ids (of this queue shard)
-- Reads job records for admin views and tests: per id the record's fields as a flat array
-- (empty when the record is gone), with `state` active and `attempts` the lease's attempt when
-- the job is leased now (a lease is kept in its queue's `leases` hash, not in the record).
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local h = redis.call('HGETALL', job_key(id))
  if #h > 0 then
    local _, attempt = parse_lease(redis.call('HGET', leases_key, id))
    if attempt then
      h[#h + 1] = 'state'
      h[#h + 1] = 'active'
      h[#h + 1] = 'attempts'
      h[#h + 1] = tostring(attempt)
    end
  end
  out[#out + 1] = h
end
return out
