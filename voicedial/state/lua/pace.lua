-- GCRA pacing on the Redis server's clock, shared by every worker on one Twilio account.
-- KEYS[1] pace key; ARGV[1] emission interval in microseconds (1e6 / cps); ARGV[2] burst (>= 1);
-- ARGV[3] slots wanted (>= 1); ARGV[4] horizon in microseconds: reserve only slots that open
-- within it.
-- Returns {first, granted, now}: `granted` consecutive slots are taken, slot k (from 0) opening
-- `first + k * interval` microseconds from `now` (the server's clock, microseconds; a negative
-- value means already open). With granted = 0, `first` says how long to wait before asking.
-- Reserving a tenth of a second of slots in one round trip, and placing each call at its slot's
-- time, keeps the pace exact: a worker that is a little late for one slot does not push the
-- next ones back (a take-one-slot-now bucket loses every such delay; 87 calls/s at cps 100).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = interval * (tonumber(ARGV[2]) - 1)
local wanted = tonumber(ARGV[3])
local horizon = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local first = tat - tau - now
local fits = math.floor((horizon - first) / interval) + 1
local granted = math.max(0, math.min(wanted, fits))
if granted == 0 then
  return {math.ceil(first), 0, now}
end
local new_tat = tat + granted * interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {math.ceil(first), granted, now}
