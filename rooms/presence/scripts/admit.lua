-- Admit one participant to a live room, atomically.
-- KEYS: the prelude's 1-9, then 10 publishers, 11 resume, 12 waitroom, 13 letin,
--       14 seq (the room's sequence counter, read only; see Presence.admit)
-- ARGV: 1 now_ms, 2 expires_ms, 3 participant id, 4 user id, 5 entry JSON,
--       6 takes_seat (0/1), 7 hidden (0/1),
--       8 resume token to save for the participant ('' = none), 9 its key's ttl (s),
--       10 resume token to forget ('' = none), 11 may wait (0/1: a student, not resuming)
-- Returns {verdict, count, seats, capacity, replaced_entry_or_false, publish_allowed (0/1),
--          seq, purged...}
-- verdict: 'ok' | 'again' (same participant refreshed) | 'unknown' (room not loaded)
--          | 'not_live:<status>' | 'banned' | 'full'
--          | 'wait' (the waiting room is on and the user was not let in: nothing admitted)
-- Once admitted ('ok', 'again'), the resume token is saved (the old one forgotten) and
-- publish_allowed tells whether the host let the user publish, and seq is the room's last
-- sequence number handed out (0 when none): the joining connection needs all three for its
-- welcome, and gets them in this round trip instead of others.
local now = tonumber(ARGV[1])
local pid, uid = ARGV[3], ARGV[4]
local takes_seat, hidden = ARGV[6] == '1', ARGV[7] == '1'

local room = redis.call('HMGET', KEYS[1], 'status', 'capacity')
local status = room[1]
if not status then
  return {'unknown', 0, 0, 0, false}
end
local capacity = tonumber(room[2] or '0')
if status ~= 'live' then
  return {'not_live:' .. status, 0, 0, capacity, false}
end
if redis.call('SISMEMBER', KEYS[8], uid) == 1 then
  return {'banned', 0, 0, capacity, false}
end
if ARGV[11] == '1' and redis.call('EXISTS', KEYS[12]) == 1
    and redis.call('SISMEMBER', KEYS[13], uid) == 0 then
  return {'wait', 0, 0, capacity, false}
end

local purged = purge_expired(now)
-- The seats taken once admitted, when the admission counted them (saves a SCARD).
local seats_after = nil
local reply = function(verdict, replaced)
  local allowed = 0
  if verdict ~= 'full' then
    if ARGV[8] ~= '' then
      redis.call('HSET', KEYS[11], ARGV[8], pid)
      redis.call('EXPIRE', KEYS[11], tonumber(ARGV[9]))
      if ARGV[10] ~= '' and ARGV[10] ~= ARGV[8] then
        redis.call('HDEL', KEYS[11], ARGV[10])
      end
    end
    allowed = redis.call('SISMEMBER', KEYS[10], uid)
  end
  local out = {
    verdict, visible_count(), seats_after or redis.call('SCARD', KEYS[6]), capacity, replaced,
    allowed, redis.call('GET', KEYS[14]) or '0'
  }
  for _, entry in ipairs(purged) do
    table.insert(out, entry)
  end
  return out
end

local previous = redis.call('HGET', KEYS[4], uid)
if previous == pid then
  -- The same participant again (REST heartbeat, or a resumed connection): refresh its
  -- expiry and take its new entry (the node holding it may have changed).
  redis.call('HSET', KEYS[2], pid, ARGV[5])
  redis.call('ZADD', KEYS[5], ARGV[2], pid)
  return reply('again', false)
end

local seats = 0
if takes_seat then
  seats = redis.call('SCARD', KEYS[6])
  if previous and redis.call('SISMEMBER', KEYS[6], previous) == 1 then
    seats = seats - 1
  end
  if seats >= capacity then
    return reply('full', false)
  end
end

local replaced = false
if previous then
  replaced = remove_member(previous, 'replaced') or false
end
redis.call('HSET', KEYS[2], pid, ARGV[5])
redis.call('HDEL', KEYS[9], pid)
redis.call('HSET', KEYS[3], pid, uid)
redis.call('HSET', KEYS[4], uid, pid)
redis.call('ZADD', KEYS[5], ARGV[2], pid)
if takes_seat then
  -- The count above left out the replaced entry's seat, which remove_member freed.
  seats_after = seats + redis.call('SADD', KEYS[6], pid)
end
if hidden then
  redis.call('SADD', KEYS[7], pid)
end
return reply('ok', replaced)
