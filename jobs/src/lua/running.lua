-- ARGV: key base, queue
-- How many jobs of this queue shard are leased now: the ids in every claim's set, and the
-- members of the `active` set (leases of the layouts before). O(claims held).
local n = redis.call('ZCARD', active_key)
for _, ls in ipairs(redis.call('ZRANGE', claims_key, 0, -1)) do
  n = n + redis.call('SCARD', claim_key(ls))
end
return n
