-- Heartbeat: push the expiry of present participants forward; never resurrects a purged one.
-- ARGV: 1 expires_ms, 2.. participant ids. Returns the ids that are no longer present.
local missing = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[5], ARGV[i]) then
    redis.call('ZADD', KEYS[5], ARGV[1], ARGV[i])
  else
    table.insert(missing, ARGV[i])
  end
end
return missing
