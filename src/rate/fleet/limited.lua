-- A 429 anywhere in the fleet: KEYS and ARGV in scripts.rs.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[6])
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat')) or 0
local resume = now + tonumber(ARGV[1])
if resume > tat then
  redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', resume))
end
local version = tonumber(redis.call('HGET', KEYS[1], 'version')) or 0
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if ARGV[3] ~= '' and (version == tonumber(ARGV[2]) or epoch ~= ARGV[7]) then
  version = version + 1
  redis.call('HSET', KEYS[1], 'cut_at', string.format('%.0f', now), 'from', ARGV[3],
    'level', ARGV[4], 'version', version)
end
redis.call('HSET', KEYS[1], 'limited_seq', redis.call('HGET', KEYS[1], 'seq') or 0)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local c = redis.call('HMGET', KEYS[1], 'cut_at', 'from', 'level', 'epoch')
local age = -1
if c[1] then age = now - tonumber(c[1]) end
return {version, age, c[2] or '', c[3] or '', c[4]}
