-- Give a claimed contact back without a call: due again at ARGV[3] in state ARGV[4]
-- (waiting_window, retry_wait, pending), or settled in a terminal state when ARGV[3] is ''.
-- KEYS[1] due, KEYS[2] inflight, KEYS[3] counts. ARGV[1] contact prefix, ARGV[2] contact id,
-- ARGV[3] due ms or '', ARGV[4] state, ARGV[5] reason, ARGV[6] '1' if no call was placed
-- (the claim's attempt is given back).
local key = ARGV[1] .. ARGV[2]
local old = redis.call('HGET', key, 'state')
if not old then return 0 end
redis.call('ZREM', KEYS[2], ARGV[2])
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
  redis.call('HSET', key, 'next_due', ARGV[3])
end
redis.call('HSET', key, 'state', ARGV[4], 'reason', ARGV[5])
local before = tonumber(redis.call('HGET', key, 'attempts') or '0')
local after = before
if ARGV[6] == '1' then after = redis.call('HINCRBY', key, 'attempts', -1) end
redis.call('HINCRBY', KEYS[3], old, -1)
redis.call('HINCRBY', KEYS[3], 'attempts:' .. old, -before)
redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
redis.call('HINCRBY', KEYS[3], 'attempts:' .. ARGV[4], after)
return 1
