-- Atomically claim the due ones among candidate contacts of one partition, within its share
-- of the concurrency cap (the shares of a campaign's partitions add up to the cap: leases.py).
-- KEYS[1] due, KEYS[2] inflight, KEYS[3] counts (per state, and 'attempts:STATE' sums),
-- KEYS[4] the partition's meta (its copy of the control flag), KEYS[5] this claim's receipt,
-- KEYS[6] the receipt of this worker's previous claim here (its reply has arrived: dropped),
-- KEYS[7 ...] each candidate's contact hash.
-- ARGV[1] the partition's share of the cap, ARGV[2] lease ms, ARGV[3] worker id, ARGV[4] how
-- long the receipt is kept (ms), ARGV[5 ...] the candidates' ids (the earliest due first,
-- read just before; ARGV[i] is the contact of KEYS[i + 2]).
-- A candidate is claimed only if it is still in `due` with a time not after now (another
-- worker may have taken it since it was read). Every key is declared, as Redis Cluster wants.
-- The claimed ids are kept as the claim's receipt: the same claim sent again (its reply was
-- lost to a dropped connection and the client retried) gets the same ids back, instead of
-- nothing while the first run's contacts sit leased to no one.
-- Returns the claimed contact ids (empty when paused, full or nothing due).
local receipt = redis.call('GET', KEYS[5])
if receipt then return cjson.decode(receipt) end
redis.call('DEL', KEYS[6])
local control = redis.call('HGET', KEYS[4], 'control')
if control == 'paused' or control == 'cancelled' then return {} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Leases past their expiry no longer hold a slot; the reconciler settles their calls.
local busy = redis.call('ZCOUNT', KEYS[2], now, '+inf')
local room = tonumber(ARGV[1]) - busy
local claimed = {}
for i = 5, #ARGV do
  if #claimed >= room then break end
  local id = ARGV[i]
  local due = redis.call('ZSCORE', KEYS[1], id)
  if due and tonumber(due) <= now then
    local key = KEYS[i + 2]
    local old = redis.call('HGET', key, 'state')
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
    redis.call('HSET', key, 'state', 'dialling', 'worker', ARGV[3], 'claimed_at', now)
    -- A claim is an attempt; release.lua gives it back if no call was placed.
    local attempts = redis.call('HINCRBY', key, 'attempts', 1)
    if old then
      redis.call('HINCRBY', KEYS[3], old, -1)
      redis.call('HINCRBY', KEYS[3], 'attempts:' .. old, 1 - attempts)
    end
    redis.call('HINCRBY', KEYS[3], 'dialling', 1)
    redis.call('HINCRBY', KEYS[3], 'attempts:dialling', attempts)
    claimed[#claimed + 1] = id
  end
end
if #claimed > 0 then redis.call('SET', KEYS[5], cjson.encode(claimed), 'PX', ARGV[4]) end
return claimed
