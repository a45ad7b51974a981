-- What settling a call reads, in one round trip: nothing if the call was already settled (a
-- repeated or late final callback), else the named fields of the call and of its contact.
-- KEYS[1] call, KEYS[2] contact.
-- ARGV[1] how many call fields follow, then the call fields, then the contact fields.
if redis.call('HGET', KEYS[1], 'final') == '1' then return false end
local n = tonumber(ARGV[1])
return {redis.call('HMGET', KEYS[1], unpack(ARGV, 2, n + 1)),
        redis.call('HMGET', KEYS[2], unpack(ARGV, n + 2))}
