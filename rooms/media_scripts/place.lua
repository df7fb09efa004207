-- Place a room on a media worker: keep its current worker while that one is alive, else pick
-- the least-loaded live worker. KEYS: 1 alive (zset worker -> last heartbeat ms),
-- 2 load (hash worker -> rooms placed), 3 rooms (hash session -> worker).
-- ARGV: 1 session id, 2 now ms, 3 heartbeat ttl ms. Returns the worker id or false.
local sid, now, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local current = redis.call('HGET', KEYS[3], sid)
if current then
  local seen = redis.call('ZSCORE', KEYS[1], current)
  if seen and tonumber(seen) >= now - ttl then
    return current
  end
  redis.call('HINCRBY', KEYS[2], current, -1)
end
local best, best_load = false, nil
for _, worker in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now - ttl, '+inf')) do
  local load = tonumber(redis.call('HGET', KEYS[2], worker) or '0')
  if best_load == nil or load < best_load then
    best, best_load = worker, load
  end
end
if not best then
  redis.call('HDEL', KEYS[3], sid)
  return false
end
redis.call('HSET', KEYS[3], sid, best)
redis.call('HINCRBY', KEYS[2], best, 1)
return best
