-- Give a claimed contact back without a call: due again at ARGV[2] in state ARGV[3]
-- (waiting_window, retry_wait, pending), or settled in a terminal state when ARGV[2] is ''.
-- KEYS[1] due, KEYS[2] inflight, KEYS[3] counts, KEYS[4] the contact. ARGV[1] contact id,
-- ARGV[2] due ms or '', ARGV[3] state, ARGV[4] reason, ARGV[5] '1' if no call was placed
-- (the claim's attempt is given back).
local key, id = KEYS[4], ARGV[1]
local old = redis.call('HGET', key, 'state')
if not old then return 0 end
redis.call('ZREM', KEYS[2], id)
if ARGV[2] ~= '' then
  redis.call('ZADD', KEYS[1], ARGV[2], id)
  redis.call('HSET', key, 'next_due', ARGV[2])
end
redis.call('HSET', key, 'state', ARGV[3], 'reason', ARGV[4])
local before = tonumber(redis.call('HGET', key, 'attempts') or '0')
local after = before
if ARGV[5] == '1' then after = redis.call('HINCRBY', key, 'attempts', -1) end
redis.call('HINCRBY', KEYS[3], old, -1)
redis.call('HINCRBY', KEYS[3], 'attempts:' .. old, -before)
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('HINCRBY', KEYS[3], 'attempts:' .. ARGV[3], after)
return 1
