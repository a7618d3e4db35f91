-- ARGV: key base, queue, batch
-- Deletes up to `batch` dead jobs (oldest first). Returns how many were deleted.
local ids = redis.call('ZRANGE', dead_key, 0, tonumber(ARGV[3]) - 1)
for _, id in ipairs(ids) do redis.call('DEL', job_key(id)) end
if #ids > 0 then redis.call('ZREM', dead_key, unpack(ids)) end
return #ids
