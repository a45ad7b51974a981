-- GCRA pacing on the Redis server's clock, shared by every worker on one Twilio account.
-- KEYS[1] pace key; ARGV[1] emission interval in microseconds (1e6 / cps); ARGV[2] burst (>= 1).
-- Returns 0 when a call may be placed now (and takes the slot), else microseconds to wait.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tau - now
if wait > 0 then
  return math.ceil(wait)
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
