-- A participant left a room: free their place on the worker that served them.
-- KEYS: 1 subs (hash worker -> participants assigned), 2 this room's assignments.
-- ARGV: 1 participant id. Returns the worker that served them, or false.
local worker = redis.call('HGET', KEYS[2], ARGV[1])
if worker then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HINCRBY', KEYS[1], worker, -1)
end
return worker
