-- ARGV: key base, queue, succeeded_ttl_s, id...
-- Deletes jobs of this queue whatever their state: the record or the fresh job's `fresh`
-- entry or `done:<t>` field; its entry in the ready list (LREM: O(length of the list), only for
-- a job that is ready and not leased — the leases are read once per call to know, see
-- `leased_now`); its lease (its id in its claim's set) and its entry in the scheduled, retrying
-- and dead sets; and its unique key while that still points at it. A worker holding one of them
-- finds its lease gone: its heartbeat reports the lease lost and its ack is ignored (both need
-- the id in the claim's set), so nothing is written back.
-- Success counts already in the `succeeded:<t>` buckets stay (they are history, not records).
-- Ids of other queues or without a record are skipped. Returns how many records were deleted.
local n = 0
local leased = leased_now()
local ids = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  ids[#ids + 1] = id
  local jk = job_key(id)
  local f = redis.call('HMGET', jk, 'queue', 'state', 'unique')
  local max_attempts, uniq, created, payload = parse_fresh(redis.call('HGET', fresh_key, id))
  if payload then f = { queue, 'ready', uniq } end
  if f[1] == queue then
    if leased[id] then
      end_lease(leased[id], id)
    elseif f[2] == 'ready' then
      redis.call('LREM', ready_key, 0, id)
    end
    for _, set in ipairs({ 'scheduled', 'retrying', 'dead' }) do
      redis.call('ZREM', set_key[set], id)
    end
    redis.call('HDEL', leases_key, id)
    redis.call('HDEL', fresh_key, id)
    release_unique(f[3], id)
    redis.call('DEL', jk)
    n = n + 1
  end
end
if #ids > 0 then
  for _, dk in ipairs(done_buckets(tonumber(ARGV[3]))) do
    n = n + redis.call('HDEL', dk, unpack(ids))
  end
end
return n
