-- ARGV: prefix, queue, batch
-- Deletes up to `batch` dead jobs (oldest first). Returns how many were deleted.
local ids = redis.call('ZRANGE', qk .. 'dead', 0, tonumber(ARGV[3]) - 1)
for _, id in ipairs(ids) do redis.call('DEL', job_key(id)) end
if #ids > 0 then redis.call('ZREM', qk .. 'dead', unpack(ids)) end
return #ids
