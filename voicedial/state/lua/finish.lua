-- A call's final status: settle the contact, free its lease, and queue its profile event, in one
-- atomic step so no crash can leave a finished call without its event. Runs once per call.
-- KEYS[1] call, KEYS[2] contact, KEYS[3] counts, KEYS[4] inflight, KEYS[5] due, KEYS[6] outbox,
-- KEYS[7] recent, KEYS[8] stats.
-- ARGV[1] call sid, ARGV[2] contact state, ARGV[3] next due ms or '' (terminal),
-- ARGV[4] event JSON or '', ARGV[5] recent-outcome JSON, ARGV[6] final CallStatus,
-- ARGV[7] disposition, ARGV[8] contact id.
local final, owner = unpack(redis.call('HMGET', KEYS[1], 'final', 'contact_id'))
if final == '1' then return 0 end
local id = ARGV[8]
local current, old, attempts = unpack(redis.call('HMGET', KEYS[2], 'last_call_sid', 'state',
                                                 'attempts'))
-- Not this campaign's call for this contact (see settle_read.lua): change nothing.
if owner and owner ~= id then return 0 end
if not owner and old ~= 'dialling' and old ~= 'in_call' then return 0 end
redis.call('HSET', KEYS[1], 'final', '1', 'status', ARGV[6], 'disposition', ARGV[7])
redis.call('HSETNX', KEYS[1], 'contact_id', id)
if current ~= ARGV[1] and old == 'dialling' then
  -- The final status beat the dialler's record of the call (see progress.lua).
  redis.call('HSET', KEYS[2], 'last_call_sid', ARGV[1])
  current = ARGV[1]
end
-- A late final callback of an older call must not move the contact's newer call.
if current == ARGV[1] then
  redis.call('ZREM', KEYS[4], id)
  if ARGV[3] ~= '' then
    redis.call('ZADD', KEYS[5], ARGV[3], id)
    redis.call('HSET', KEYS[2], 'state', ARGV[2], 'disposition', ARGV[7], 'next_due', ARGV[3])
  else
    redis.call('HSET', KEYS[2], 'state', ARGV[2], 'disposition', ARGV[7])
  end
  local n = tonumber(attempts or '0')
  if old then
    redis.call('HINCRBY', KEYS[3], old, -1)
    redis.call('HINCRBY', KEYS[3], 'attempts:' .. old, -n)
  end
  redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
  redis.call('HINCRBY', KEYS[3], 'attempts:' .. ARGV[2], n)
end
if ARGV[4] ~= '' then
  redis.call('XADD', KEYS[6], '*', 'event', ARGV[4])
  redis.call('HINCRBY', KEYS[8], 'events', 1)
end
redis.call('HINCRBY', KEYS[8], 'finished_calls', 1)
redis.call('LPUSH', KEYS[7], ARGV[5])
redis.call('LTRIM', KEYS[7], 0, 19)
return 1
