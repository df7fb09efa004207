-- Remove one participant. ARGV: 1 participant id.
-- Returns {entry_or_false, count, seats}
local entry = remove_member(ARGV[1], 'left') or false
return {entry, visible_count(), redis.call('SCARD', KEYS[6])}
