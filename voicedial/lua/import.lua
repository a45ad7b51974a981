-- Add contacts that the campaign does not have yet; leave existing ones (finished or not) alone.
-- KEYS[1] counts, KEYS[2] due, KEYS[3] stats.
-- ARGV[1] contact key prefix (same hash tag as KEYS), ARGV[2] due score (ms), ARGV[3] fields per
-- contact (n), then n values per contact: contact_id first, then field/value pairs.
-- Contact keys are derived from ARGV[1]: they share the campaign's slot, so this is Cluster-safe.
local prefix, due, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
local added, existing = 0, 0
for i = 4, #ARGV, n do
  local id = ARGV[i]
  local key = prefix .. id
  if redis.call('EXISTS', key) == 1 then
    existing = existing + 1
  else
    local fields = {'state', 'pending', 'attempts', '0'}
    for j = i + 1, i + n - 1 do fields[#fields + 1] = ARGV[j] end
    redis.call('HSET', key, unpack(fields))
    redis.call('ZADD', KEYS[2], due, id)
    added = added + 1
  end
end
if added > 0 then
  redis.call('HINCRBY', KEYS[1], 'pending', added)
  redis.call('HINCRBY', KEYS[3], 'contacts', added)
end
return {added, existing}
