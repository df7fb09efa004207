-- Heartbeat: push the expiry of present participants forward; never resurrects a purged one.
-- ARGV: 1 expires_ms, 2.. participant ids. Returns the ids that are no longer present.
-- Two commands per chunk of ids, not two per id: the embedded fakeredis spends tens of
-- microseconds of the event loop per redis.call, so a room of 500 stalled it for ~30 ms at
-- every heartbeat. ZMSCORE needs Redis 6.2. A chunk keeps unpack() far below Lua's C stack
-- limit (8000 values).
local CHUNK = 1000
local missing = {}
for first = 2, #ARGV, CHUNK do
  local last = math.min(first + CHUNK - 1, #ARGV)
  local scores = redis.call('ZMSCORE', KEYS[5], unpack(ARGV, first, last))
  local present = {}
  for i = first, last do
    if scores[i - first + 1] then
      present[#present + 1] = ARGV[1]
      present[#present + 1] = ARGV[i]
    else
      missing[#missing + 1] = ARGV[i]
    end
  end
  if #present > 0 then
    redis.call('ZADD', KEYS[5], 'XX', unpack(present))
  end
end
return missing
