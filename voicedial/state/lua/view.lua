-- One partition's contacts per state and its earliest due time, read at one instant: a claim
-- or release between two separate reads could hide a contact from both (counted as pending
-- but already out of `due`), and a run would end thinking nothing is left to dial.
-- KEYS[1] counts, KEYS[2] due. Returns {counts as field, value, ...; the earliest due score
-- or false}.
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {redis.call('HGETALL', KEYS[1]), first[2] or false}
