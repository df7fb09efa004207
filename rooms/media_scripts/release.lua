-- A room ended: free its place on its origin worker and every participant's place.
-- KEYS: 1 load (hash worker -> rooms), 2 rooms (hash session -> origin worker), 3 subs,
-- 4 this room's assignments, 5 this room's relay workers. ARGV: 1 session id.
local origin = redis.call('HGET', KEYS[2], ARGV[1])
if origin then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HINCRBY', KEYS[1], origin, -1)
end
local assigned = redis.call('HGETALL', KEYS[4])
for i = 2, #assigned, 2 do
  redis.call('HINCRBY', KEYS[3], assigned[i], -1)
end
redis.call('DEL', KEYS[4], KEYS[5])
return origin
