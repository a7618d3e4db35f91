-- ARGV: key base, queue, id...
-- Deletes jobs of this queue whatever their state: the record; its entry in the ready list
-- (LREM: O(length of the list), only for a job that is ready — a leased job's record reads
-- ready too, and its lease entry spares it the scan), in the `fresh` hash, in the scheduled,
-- retrying, active and dead sets; its lease in the `leases` hash; and its unique key while
-- that still points at it. A worker holding one of them finds its lease gone: its heartbeat
-- reports the lease lost and its ack is ignored (both check the `leases` hash), so nothing is
-- written back.
-- Success counts already in the `succeeded:<t>` buckets stay (they are history, not records).
-- Ids of other queues or without a record are skipped. Returns how many records were deleted.
local n = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local jk = job_key(id)
  local f = redis.call('HMGET', jk, 'queue', 'state', 'unique')
  if f[1] == queue then
    if f[2] == 'ready' and redis.call('HEXISTS', leases_key, id) == 0 then
      redis.call('LREM', ready_key, 0, id)
    end
    for _, set in ipairs({ 'scheduled', 'retrying', 'active', 'dead' }) do
      redis.call('ZREM', set_key[set], id)
    end
    redis.call('HDEL', leases_key, id)
    redis.call('HDEL', fresh_key, id)
    release_unique(f[3], id)
    redis.call('DEL', jk)
    n = n + 1
  end
end
return n
