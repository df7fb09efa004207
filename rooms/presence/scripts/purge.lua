-- Drop every entry whose heartbeat expired. ARGV: 1 now_ms.
-- Returns {count, seats, purged...}
local purged = purge_expired(tonumber(ARGV[1]))
local out = {visible_count(), redis.call('SCARD', KEYS[6])}
for _, entry in ipairs(purged) do
  table.insert(out, entry)
end
return out
