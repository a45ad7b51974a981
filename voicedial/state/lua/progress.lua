-- A non-final status callback. Applied only if its SequenceNumber is newer than the last seen,
-- so repeated or reordered callbacks change nothing.
-- KEYS[1] call, KEYS[2] contact, KEYS[3] counts, KEYS[4] inflight.
-- ARGV[1] CallStatus, ARGV[2] SequenceNumber, ARGV[3] lease ms, ARGV[4] call sid,
-- ARGV[5] contact id.
-- (Fields are read with one HMGET per hash: each redis.call costs the server about as much as
-- the work it does, and this runs for most callbacks.)
local final, seq, owner = unpack(redis.call('HMGET', KEYS[1], 'final', 'seq', 'contact_id'))
if final == '1' then return 0 end
if tonumber(ARGV[2]) <= tonumber(seq or '-1') then return 0 end
local id = ARGV[5]
local current, state, attempts = unpack(redis.call('HMGET', KEYS[2], 'last_call_sid', 'state',
                                                   'attempts'))
-- Not this campaign's call for this contact (see settle_read.lua): change nothing.
if owner and owner ~= id then return 0 end
if not owner and state ~= 'dialling' and state ~= 'in_call' then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'status', ARGV[1])
redis.call('HSETNX', KEYS[1], 'contact_id', id)
if current ~= ARGV[4] then
  -- A callback can beat the dialler's own record of the call; adopt it while the contact is
  -- still being dialled (an older call of this contact was settled before it was re-claimed).
  if state ~= 'dialling' then return 1 end
  redis.call('HSET', KEYS[2], 'last_call_sid', ARGV[4])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'seen_at', now)
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[3]), id)
if ARGV[1] == 'in-progress' then
  if state == 'dialling' then
    redis.call('HSET', KEYS[2], 'state', 'in_call')
    local n = tonumber(attempts or '0')
    redis.call('HINCRBY', KEYS[3], 'dialling', -1)
    redis.call('HINCRBY', KEYS[3], 'attempts:dialling', -n)
    redis.call('HINCRBY', KEYS[3], 'in_call', 1)
    redis.call('HINCRBY', KEYS[3], 'attempts:in_call', n)
  end
  redis.call('HSETNX', KEYS[1], 'answered_at', now)
end
return 1
