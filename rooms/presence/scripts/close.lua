-- Close the room: mark it with ARGV[1] (ended/cancelled) and remove everybody.
-- Returns every removed entry.
redis.call('HSET', KEYS[1], 'status', ARGV[1])
local entries = redis.call('HVALS', KEYS[2])
for _, pid in ipairs(redis.call('HKEYS', KEYS[2])) do
  note_gone(pid, 'ended')
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
return entries
