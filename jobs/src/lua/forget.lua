-- ARGV: key base, queue, id...
-- Deletes the records of finished jobs (succeeded or dead) among the ids; live jobs are left
-- alone. Returns how many records were deleted.
local n = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local jk = job_key(id)
  local state = redis.call('HGET', jk, 'state')
  if state == 'succeeded' or state == 'dead' then
    redis.call('DEL', jk)
    redis.call('ZREM', dead_key, id)
    n = n + 1
  end
end
return n
