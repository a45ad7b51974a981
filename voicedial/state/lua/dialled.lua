-- The dialler's record of a call it placed. The call's callbacks may already have run (they can
-- beat this), so nothing here may undo them: the lease is only refreshed if still held.
-- KEYS[1] call, KEYS[2] contact, KEYS[3] inflight, KEYS[4] stats, KEYS[5] dials.
-- ARGV[1] call sid, ARGV[2] contact id, ARGV[3] lease ms, ARGV[4] Twilio's queue_time ms or ''.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSETNX', KEYS[1], 'contact_id', ARGV[2])
redis.call('HSETNX', KEYS[1], 'created_at', now)
redis.call('HSETNX', KEYS[1], 'status', 'queued')
redis.call('HSETNX', KEYS[1], 'seq', '-1')
redis.call('HINCRBY', KEYS[4], 'calls_placed', 1)
if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], 'queue_time_ms', ARGV[4]) end
redis.call('ZADD', KEYS[5], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - 60000)
if redis.call('HGET', KEYS[1], 'final') == '1' then return 0 end
local state = redis.call('HGET', KEYS[2], 'state')
if state == 'dialling' or state == 'in_call' then
  redis.call('HSET', KEYS[2], 'last_call_sid', ARGV[1], 'last_dialled_at', now)
  redis.call('ZADD', KEYS[3], 'XX', now + tonumber(ARGV[3]), ARGV[2])
end
return 1
