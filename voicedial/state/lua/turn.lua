-- Save an interview turn only if no other request saved this turn first (Twilio may repeat a
-- Gather action); the loser replays the TwiML the winner stored.
-- KEYS[1] call. ARGV[1] expected turn, ARGV[2] interview JSON, ARGV[3] TwiML, ARGV[4] next turn.
if (redis.call('HGET', KEYS[1], 'turn') or '') ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'interview', ARGV[2], 'twiml', ARGV[3], 'turn', ARGV[4],
           'seen_at', now)
return 1
