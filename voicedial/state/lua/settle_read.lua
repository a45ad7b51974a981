-- What settling a call reads, in one round trip: nothing if the call was already settled (a
-- repeated or late final callback) or is not this campaign's call for this contact, else the
-- named fields of the call and of its contact.
-- A call is the campaign's once the dialler recorded it (or a callback for a contact that is
-- being dialled adopted it): its record names its contact. A signed callback for any other
-- CallSid changes nothing.
-- KEYS[1] call, KEYS[2] contact.
-- ARGV[1] contact id, ARGV[2] how many call fields follow, then the call fields, then the
-- contact fields.
local final, owner = unpack(redis.call('HMGET', KEYS[1], 'final', 'contact_id'))
if final == '1' then return false end
if owner then
  if owner ~= ARGV[1] then return false end
else
  local state = redis.call('HGET', KEYS[2], 'state')
  if state ~= 'dialling' and state ~= 'in_call' then return false end
end
local n = tonumber(ARGV[2])
return {redis.call('HMGET', KEYS[1], unpack(ARGV, 3, n + 2)),
        redis.call('HMGET', KEYS[2], unpack(ARGV, n + 3))}
