-- Ban a user from the room and remove their participant. ARGV: 1 user id.
-- Returns {entry_or_false, count, seats}
redis.call('SADD', KEYS[8], ARGV[1])
local pid = redis.call('HGET', KEYS[4], ARGV[1])
local entry = false
if pid then
  entry = remove_member(pid, 'banned') or false
end
return {entry, visible_count(), redis.call('SCARD', KEYS[6])}
