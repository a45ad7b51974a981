-- Add contacts that the campaign does not have yet; leave existing ones (finished or not) alone.
-- KEYS[1] counts, KEYS[2] due, KEYS[3] stats.
-- ARGV[1] contact key prefix (same hash tag as KEYS), ARGV[2] due score (ms), then two values per
-- contact: its id, and its field/value pairs joined by NUL (the importer refuses files holding
-- NUL, so it cannot occur in a value). Two arguments instead of seventeen per contact: packing
-- arguments was most of an import's time.
-- Contact keys are derived from ARGV[1]: they share the campaign's slot, so this is Cluster-safe.
local prefix, due = ARGV[1], ARGV[2]
local added, existing = 0, 0
for i = 3, #ARGV, 2 do
  local id, packed = ARGV[i], ARGV[i + 1]
  local key = prefix .. id
  if redis.call('EXISTS', key) == 1 then
    existing = existing + 1
  else
    local fields, start = {'state', 'pending', 'attempts', '0'}, 1
    while true do
      local stop = string.find(packed, '\0', start, true)
      if not stop then
        fields[#fields + 1] = string.sub(packed, start)
        break
      end
      fields[#fields + 1] = string.sub(packed, start, stop - 1)
      start = stop + 1
    end
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
