-- ARGV: key base, queue, succeeded_ttl_s, id...
-- Deletes the records of finished jobs (succeeded or dead) among the ids, a fresh job's success
-- in its `done:<t>` bucket included; live jobs are left alone. Returns how many records were
-- deleted.
local n = 0
local ids = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  ids[#ids + 1] = id
  local jk = job_key(id)
  local state = redis.call('HGET', jk, 'state')
  if state == 'succeeded' or state == 'dead' then
    redis.call('DEL', jk)
    redis.call('ZREM', dead_key, id)
    n = n + 1
  end
end
if #ids > 0 then
  for _, dk in ipairs(done_buckets(tonumber(ARGV[3]))) do
    n = n + redis.call('HDEL', dk, unpack(ids))
  end
end
return n
