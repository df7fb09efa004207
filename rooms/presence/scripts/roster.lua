-- The room's members for a small roster, or nothing when there are too many to show.
-- ARGV: 1 at most this many visible members, 2 now (ms; "": no expiry check)
-- Returns {0} when more than ARGV[1] are visible (nothing is read), else
-- {1, expired participant ids, every member's entry}.
local visible = redis.call('HLEN', KEYS[2]) - redis.call('SCARD', KEYS[7])
if visible > tonumber(ARGV[1]) then
  return {0}
end
local expired = {}
if ARGV[2] ~= '' then
  expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', ARGV[2])
end
return {1, expired, redis.call('HVALS', KEYS[2])}
