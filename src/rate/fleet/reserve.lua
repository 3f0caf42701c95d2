-- Reserves the next slot of the fleet's schedule: KEYS and ARGV in scripts.rs.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[6])
redis.call('HSETNX', KEYS[1], 'grid', ARGV[8])
local b = redis.call('HMGET', KEYS[1], 'tat', 'version', 'cut_at', 'from', 'level', 'epoch', 'calm',
  'grid')
local tat = tonumber(b[1]) or 0
local calm = tonumber(b[7]) or 0
local grid = tonumber(b[8])
local away = tonumber(ARGV[7])
if away > 0 and calm < tonumber(ARGV[10]) then
  calm = math.ceil((now + away) / grid) * grid
  redis.call('HSET', KEYS[1], 'calm', string.format('%.0f', calm))
end
local floor = math.max(now, now + tonumber(ARGV[5]), calm)
local slot = math.max(tat, floor)
local wait = slot - now
local seq = 0
local place = -1
if ARGV[9] ~= '1' then
  local horizon = tonumber(ARGV[12])
  local lead = tonumber(ARGV[14])
  local grace = tonumber(ARGV[13])
  -- Any ask of a process in line (its interactive calls' too) shows it is still there.
  local due = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[2]))
  if due and due < now then
    redis.call('ZADD', KEYS[4], string.format('%.0f', now), ARGV[2])
  end
  local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', string.format('(%.0f', now - grace))
  for _, m in ipairs(gone) do
    redis.call('ZREM', KEYS[3], m)
    redis.call('ZREM', KEYS[4], m)
  end
  -- One in line with no time to ask again (its time evicted alone) is gone after the grace too.
  local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', string.format('(%.0f', now - grace))
  for _, m in ipairs(old) do
    if not redis.call('ZSCORE', KEYS[4], m) then redis.call('ZREM', KEYS[3], m) end
  end
  local ready = nil
  if ARGV[11] == 'b' then
    redis.call('HSET', KEYS[1], 'background_at', string.format('%.0f', now))
    redis.call('ZADD', KEYS[3], 'NX', string.format('%.0f', now), ARGV[2])
    place = redis.call('ZRANK', KEYS[3], ARGV[2])
    if place == 0 then
      ready = tat - horizon
    else
      ready = tat - lead
    end
  elseif redis.call('HGET', KEYS[1], 'lane') == 'i' then
    -- Background work waits in line, or holds a slot and will be back for the next.
    local background_at = tonumber(redis.call('HGET', KEYS[1], 'background_at')) or 0
    if redis.call('ZCARD', KEYS[3]) > 0 or now - background_at < 2 * tonumber(ARGV[1]) then
      ready = tat - lead
    end
  end
  -- Not this process's own spacing (ARGV[5]): only the time, or the fleet's calm, lets in.
  local gate = math.max(now, calm)
  if ready and gate < ready then
    local back = ready
    if place > 0 then back = math.max(ready, tat - horizon + place * tonumber(ARGV[1])) end
    wait = back - now
    if place >= 0 then
      redis.call('ZADD', KEYS[4], string.format('%.0f', back), ARGV[2])
    end
  else
    tat = slot + tonumber(ARGV[1])
    redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat), 'lane', ARGV[11])
    seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
    if place >= 0 then
      redis.call('ZREM', KEYS[3], ARGV[2])
      redis.call('ZREM', KEYS[4], ARGV[2])
      place = -1
    end
  end
end
redis.call('ZADD', KEYS[2], string.format('%.0f', now), ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('(%.0f', now - tonumber(ARGV[3])))
local all = redis.call('ZRANGE', KEYS[2], 0, -1)
table.sort(all)
local rank = 0
for i, m in ipairs(all) do
  if m == ARGV[2] then rank = i - 1 end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
redis.call('PEXPIRE', KEYS[4], ARGV[4])
local age = -1
if b[3] then age = now - tonumber(b[3]) end
return {{wait, seq, #all, rank, now, tonumber(b[2]) or 0, age},
  {b[4] or '', b[5] or '', b[6]},
  {calm - now, grid, tat - now, tonumber(redis.call('HGET', KEYS[1], 'limited_seq')) or 0, place}}
