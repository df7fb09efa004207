-- Choose the worker that sends a room's media to one participant (a room spread over several
-- workers when one cannot take all its subscribers). Sticky while that worker lives.
-- Order: the room's origin worker (where its publishers are) while it has room; else the
-- least-loaded worker already relaying this room; else the least-loaded live worker, which
-- becomes a relay of the room; else (every worker full) the least-loaded live relay of the
-- room takes the overload, and with no relay the origin: the origin carries the publishers,
-- and an overloaded origin loses them (consent checks unanswered), and the whole room with
-- them, where an overloaded relay hurts only its own subscribers.
-- "Room" is a worker's capacity: what it measured it can carry (6: caps, from heartbeats; the
-- origin's own figure comes as ARGV 6), never more than the configured cap.
-- KEYS: 1 alive (zset worker -> last heartbeat ms), 2 rooms (hash session -> origin worker),
-- 3 subs (hash worker -> participants assigned), 4 this room's assignments (hash participant
-- -> worker), 5 this room's relay workers (set), 6 caps (hash worker -> capacity).
-- ARGV: 1 session id, 2 participant id, 3 now ms, 4 heartbeat ttl ms, 5 per-worker cap,
-- 6 the origin's capacity now.
-- Returns the worker id, or false when the room has no live origin (place it first).
local sid, pid = ARGV[1], ARGV[2]
local now, ttl, cap = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local origin_cap = tonumber(ARGV[6]) or cap

local function alive(worker)
  local seen = redis.call('ZSCORE', KEYS[1], worker)
  return seen and tonumber(seen) >= now - ttl
end

local function load(worker)
  return tonumber(redis.call('HGET', KEYS[3], worker) or '0')
end

local function capacity(worker)
  local measured = tonumber(redis.call('HGET', KEYS[6], worker) or '')
  if measured and measured < cap then
    return measured
  end
  return cap
end

local current = redis.call('HGET', KEYS[4], pid)
if current then
  if alive(current) then
    return current
  end
  redis.call('HDEL', KEYS[4], pid)
  redis.call('HINCRBY', KEYS[3], current, -1)
end

local origin = redis.call('HGET', KEYS[2], sid)
if not origin or not alive(origin) then
  return false
end

local chosen = nil
if load(origin) < math.min(origin_cap, cap) then
  chosen = origin
end
if not chosen then
  local best_load = nil
  for _, worker in ipairs(redis.call('SMEMBERS', KEYS[5])) do
    if alive(worker) then
      local l = load(worker)
      if l < capacity(worker) and (best_load == nil or l < best_load) then
        chosen, best_load = worker, l
      end
    else
      redis.call('SREM', KEYS[5], worker)
    end
  end
end
if not chosen then
  local best_load = nil
  for _, worker in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now - ttl, '+inf')) do
    local l = load(worker)
    if worker ~= origin and l < capacity(worker) and (best_load == nil or l < best_load) then
      chosen, best_load = worker, l
    end
  end
  if chosen and chosen ~= origin then
    redis.call('SADD', KEYS[5], chosen)
  end
end
if not chosen then
  local best_load = nil
  for _, worker in ipairs(redis.call('SMEMBERS', KEYS[5])) do
    if alive(worker) then
      local l = load(worker)
      if best_load == nil or l < best_load then
        chosen, best_load = worker, l
      end
    end
  end
end
if not chosen then
  chosen = origin
end
redis.call('HSET', KEYS[4], pid, chosen)
redis.call('HINCRBY', KEYS[3], chosen, 1)
return chosen
