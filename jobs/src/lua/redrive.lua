-- ARGV: key base, queue, id
-- Moves a dead job back to the ready list with a fresh attempt budget. Returns 1, or 0 when the
-- job is not dead in this queue.
local id = ARGV[3]
local jk = job_key(id)
if redis.call('ZREM', dead_key, id) == 0 then return 0 end
if redis.call('HGET', jk, 'state') ~= 'dead' then return 0 end
local uniq = redis.call('HGET', jk, 'unique')
if uniq and uniq ~= '' then redis.call('SET', base .. 'unique:' .. uniq, id, 'NX') end
redis.call('PERSIST', jk)
redis.call('HSET', jk, 'state', 'ready', 'attempts', 0, 'deferrals', 0, 'run_at_ms', now)
redis.call('HDEL', jk, 'finished_ms')
redis.call('RPUSH', ready_key, id)
wake()
return 1
