-- Atomically claim up to ARGV[4] due contacts for dialling, within the concurrency cap.
-- KEYS[1] due, KEYS[2] inflight, KEYS[3] counts (per state, and 'attempts:STATE' sums),
-- KEYS[4] meta.
-- ARGV[1] contact key prefix, ARGV[2] max concurrent, ARGV[3] lease ms, ARGV[4] limit,
-- ARGV[5] worker id. Returns the claimed contact ids (empty when paused, full or nothing due).
local control = redis.call('HGET', KEYS[4], 'control')
if control == 'paused' or control == 'cancelled' then return {} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Leases past their expiry no longer hold a slot; the reconciler settles their calls.
local busy = redis.call('ZCOUNT', KEYS[2], now, '+inf')
local room = tonumber(ARGV[2]) - busy
if room <= 0 then return {} end
local limit = math.min(room, tonumber(ARGV[4]))
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  local old = redis.call('HGET', key, 'state')
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), id)
  redis.call('HSET', key, 'state', 'dialling', 'worker', ARGV[5], 'claimed_at', now)
  -- A claim is an attempt; release.lua gives it back if no call was placed.
  local attempts = redis.call('HINCRBY', key, 'attempts', 1)
  if old then
    redis.call('HINCRBY', KEYS[3], old, -1)
    redis.call('HINCRBY', KEYS[3], 'attempts:' .. old, 1 - attempts)
  end
  redis.call('HINCRBY', KEYS[3], 'dialling', 1)
  redis.call('HINCRBY', KEYS[3], 'attempts:dialling', attempts)
end
return ids
