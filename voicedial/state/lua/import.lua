-- Add contacts that the campaign does not have yet; leave existing ones (finished or not) alone.
-- KEYS[1] counts, KEYS[2] due, KEYS[3] stats.
-- ARGV[1] contact key prefix (same hash tag as KEYS), ARGV[2] due score (ms) of the first
-- contact, ARGV[3] score step between contacts (ms), ARGV[4] the contacts: each one's id, a
-- NUL and its packed static fields (voicedial/records.py), back to back; ARGV[5] where each
-- id and each record ends in ARGV[4], as a MessagePack array of 2n integers.
-- Five arguments a chunk instead of two a contact: the client packs, and the server parses,
-- no argument per contact. The static fields are one hash field, stored as they come.
-- Scores rise in file order by a fraction of a millisecond: contacts are dialled in the list's
-- order, and the one ZADD appends at the end of the sorted set instead of comparing member
-- names at a random place.
-- 'attempts' starts missing (HINCRBY counts from 0): fewer fields, less work per contact.
-- Contact keys are derived from ARGV[1]: they share the campaign's slot, so this is Cluster-safe.
local prefix, due, step = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local blob, ends = ARGV[4], cmsgpack.unpack(ARGV[5])
local sub, call = string.sub, redis.call
local added, existing, start = 0, 0, 1
local scored, n = {}, 0
for k = 1, #ends, 2 do
  local id = sub(blob, start, ends[k])
  local key = prefix .. id
  if call('EXISTS', key) == 1 then
    existing = existing + 1
  else
    call('HSET', key, 'state', 'pending', 'packed', sub(blob, ends[k] + 2, ends[k + 1]))
    scored[n + 1] = due + (k - 1) / 2 * step
    scored[n + 2] = id
    n = n + 2
    added = added + 1
  end
  start = ends[k + 1] + 1
end
if added > 0 then
  call('ZADD', KEYS[2], unpack(scored))
  call('HINCRBY', KEYS[1], 'pending', added)
  call('HINCRBY', KEYS[3], 'contacts', added)
end
return {added, existing}
