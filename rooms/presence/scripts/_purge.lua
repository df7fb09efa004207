-- Shared prelude of the presence scripts (prepended by presence.py).
-- KEYS: 1 room, 2 members, 3 owner, 4 users, 5 expiry, 6 seats, 7 hidden, 8 bans, 9 gone
local GONE_TTL_MS = 600000

-- Remember why a participant left (its node's heartbeat reads it: Presence.gone).
local function note_gone(pid, reason)
  redis.call('HSET', KEYS[9], pid, reason)
  redis.call('PEXPIRE', KEYS[9], GONE_TTL_MS)
end

local function remove_member(pid, reason)
  local entry = redis.call('HGET', KEYS[2], pid)
  if entry then
    note_gone(pid, reason)
  end
  local uid = redis.call('HGET', KEYS[3], pid)
  redis.call('HDEL', KEYS[2], pid)
  redis.call('HDEL', KEYS[3], pid)
  redis.call('ZREM', KEYS[5], pid)
  redis.call('SREM', KEYS[6], pid)
  redis.call('SREM', KEYS[7], pid)
  if uid and redis.call('HGET', KEYS[4], uid) == pid then
    redis.call('HDEL', KEYS[4], uid)
  end
  return entry
end

local function purge_expired(now)
  local purged = {}
  local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)
  for _, pid in ipairs(expired) do
    local entry = remove_member(pid, 'expired')
    if entry then
      table.insert(purged, entry)
    end
  end
  return purged
end

local function visible_count()
  return redis.call('HLEN', KEYS[2]) - redis.call('SCARD', KEYS[7])
end
