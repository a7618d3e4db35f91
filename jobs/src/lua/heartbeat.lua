-- ARGV: key base, queue, lease_ms, then pairs: id, lease
-- Extends the lease of every job this worker still holds (one ZMSCORE of the active set and one
-- ZADD per call). Returns the ids whose lease is no longer this worker's (reaped and
-- re-delivered elsewhere, or finished): their member `<id> <lease>` is gone.
local deadline = now + tonumber(ARGV[3])
local lost, zargs, ids, members = {}, {}, {}, {}
for i = 4, #ARGV, 2 do
  ids[#ids + 1] = ARGV[i]
  members[#members + 1] = lease_member(ARGV[i], ARGV[i + 1])
end
if #ids == 0 then return lost end
local held = redis.call('ZMSCORE', active_key, unpack(members))
for k, id in ipairs(ids) do
  if held[k] then
    zargs[#zargs + 1] = deadline
    zargs[#zargs + 1] = members[k]
  else
    lost[#lost + 1] = id
  end
end
if #zargs > 0 then redis.call('ZADD', active_key, 'XX', unpack(zargs)) end
return lost
