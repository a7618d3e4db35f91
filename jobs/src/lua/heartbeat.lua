-- ARGV: key base, queue, lease_ms, then pairs: id, lease
-- Extends the lease of every job this worker still holds: per claim named, one SMISMEMBER of its
-- set and, while any of its ids is there, one ZADD XX of its deadline. Returns the ids whose
-- lease is no longer this worker's (reaped and re-delivered elsewhere, handed back, finished or
-- removed): they are gone from their claim's set.
local deadline = now + tonumber(ARGV[3])
local lost, nlost = {}, 0
-- The ids by lease, leases in the order first named.
local by_lease, order = {}, {}
for i = 4, #ARGV, 2 do
  local ls = ARGV[i + 1]
  local g = by_lease[ls]
  if not g then
    g = {}
    by_lease[ls] = g
    order[#order + 1] = ls
  end
  g[#g + 1] = ARGV[i]
end
for _, ls in ipairs(order) do
  local ids = by_lease[ls]
  local held = redis.call('SMISMEMBER', claim_key(ls), unpack(ids))
  local any = false
  for k, id in ipairs(ids) do
    if held[k] == 1 then
      any = true
    else
      nlost = nlost + 1
      lost[nlost] = id
    end
  end
  if any then redis.call('ZADD', claims_key, 'XX', deadline, ls) end
end
return lost
