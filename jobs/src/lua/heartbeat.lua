-- ARGV: prefix, queue, lease_ms, then pairs: id, lease
-- Extends the lease of every job this worker still holds. Returns the ids whose lease is no
-- longer this worker's (reaped and re-delivered elsewhere, or finished).
local deadline = now + tonumber(ARGV[3])
local lost = {}
local zargs = {}
for i = 4, #ARGV, 2 do
  local id, lease = ARGV[i], ARGV[i + 1]
  local f = redis.call('HMGET', job_key(id), 'lease', 'state')
  if f[1] == lease and f[2] == 'active' then
    zargs[#zargs + 1] = deadline
    zargs[#zargs + 1] = id
  else
    lost[#lost + 1] = id
  end
end
if #zargs > 0 then redis.call('ZADD', qk .. 'active', 'XX', unpack(zargs)) end
return lost
