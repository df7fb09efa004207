-- Load (or update) the room's state from the durable store. ARGV: 1 status, 2 capacity.
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'capacity', ARGV[2])
return visible_count()
