-- ARGV: key base, queue, lease_ms, then pairs: id, lease
-- Extends the lease of every job this worker still holds (one read of the `leases` hash and
-- one ZADD per call). Returns the ids whose lease is no longer this worker's (reaped and
-- re-delivered elsewhere, or finished).
local deadline = now + tonumber(ARGV[3])
local lost, zargs, ids = {}, {}, {}
for i = 4, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return lost end
local held = redis.call('HMGET', leases_key, unpack(ids))
for k, id in ipairs(ids) do
  if parse_lease(held[k]) == ARGV[3 + 2 * k] then
    zargs[#zargs + 1] = deadline
    zargs[#zargs + 1] = id
  else
    lost[#lost + 1] = id
  end
end
if #zargs > 0 then redis.call('ZADD', active_key, 'XX', unpack(zargs)) end
return lost
