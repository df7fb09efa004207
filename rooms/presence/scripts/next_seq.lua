-- Next reliable-message sequence number of a room, or false when the counter is missing
-- (Redis restarted): the caller seeds it from the store with ARGV[1] and calls again.
-- KEYS: 1 seq. ARGV: 1 floor ('' = do not seed).
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[1] == '' then
    return false
  end
  redis.call('SET', KEYS[1], ARGV[1])
end
return redis.call('INCR', KEYS[1])
