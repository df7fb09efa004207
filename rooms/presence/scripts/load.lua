-- Load (or update) the room's state from the durable store.
-- ARGV: 1 status, 2 capacity, 3.. user ids banned from the room.
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'capacity', ARGV[2])
for i = 3, #ARGV do
  redis.call('SADD', KEYS[8], ARGV[i])
end
return visible_count()
