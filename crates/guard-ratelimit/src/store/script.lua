-- guard-ratelimit: one decision over every quota policy of one key, atomically, in one round
-- trip. A transcription of src/algorithm.rs: same state, same formulas, same rounding.
--
-- KEYS[1]    the replay record of this decision's request id
-- KEYS[2..]  one state key per policy, in policy order (all share one hash tag: one slot)
-- ARGV[1]    algorithm: g (GCRA), s (sliding window), f (fixed window)
-- ARGV[2]    cost
-- ARGV[3]    '' in production: the time is the server's (TIME). Tests pass a clock reading in
--            ms here to make the suite deterministic.
-- ARGV[4]    how long the replay record lives, ms
-- ARGV[5..]  limit and window (ms) of each policy, in pairs
--
-- Returns {replayed, admitted, then per policy: refused, remaining, full_reset_ms, next_ms,
-- retry_ms}, -1 standing for "never" (a cost above the limit).
--
-- Every number stays below 2^53, where Lua's doubles are exact integers; idiv divides exactly.

-- Writes after TIME need effects replication: the default from Redis 5 on, asked for before.
if redis.replicate_commands then redis.replicate_commands() end

-- A request id seen before (the client retried after losing the answer): the earlier result,
-- counted once. Only admissions are recorded; a refusal wrote nothing and may be decided anew.
local replay = redis.call('GET', KEYS[1])
if replay then
  local out = {1}
  for n in string.gmatch(replay, '%-?%d+') do out[#out + 1] = tonumber(n) end
  return out
end

local now
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function idiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end
local function cdiv(a, b) return idiv(a + b - 1, b) end
local function max0(a) if a < 0 then return 0 end return a end
local function int(n) return string.format('%.0f', n) end

local alg = ARGV[1]
local cost = tonumber(ARGV[2])
local n = #KEYS - 1
local NEVER = -1

-- The state of one policy as it stands now, as {a, b, c, e}.
local function view(raw, L, W)
  local a, b, c
  if raw then
    a, b, c = string.match(raw, '^(%d+) (%d+) (%d+)$')
    a, b, c = tonumber(a), tonumber(b), tonumber(c)
  end
  if alg == 'g' then
    local level = 0
    if a then
      local elapsed = max0(now - a)
      if elapsed < W then level = max0(b - elapsed * L) end
    end
    return {now, level, 0, 0}
  elseif alg == 'f' then
    if a and now < a + W then return {a, b, 0, 0} end
    return {now, 0, 0, 0}
  else
    local i = idiv(now, W)
    local idx, curr, prev = i, 0, 0
    if a then
      if a == i then idx, curr, prev = a, b, c
      elseif a + 1 == i then idx, curr, prev = i, 0, b
      elseif a > i then idx, curr, prev = a, b, c
      end
    end
    return {idx, curr, prev, max0(now - idx * W)}
  end
end

local function fits(v, L, W, units)
  if alg == 'g' then return v[2] + units * W <= W * L
  elseif alg == 'f' then return v[2] + units <= L
  else return v[3] * (W - v[4]) + (v[2] + units) * W <= L * W
  end
end

local function consume(v, W)
  if alg == 'g' then return {now, v[2] + cost * W, 0, 0}
  else return {v[1], v[2] + cost, v[3], v[4]}
  end
end

local function ttl(v, L, W)
  local t
  if alg == 'g' then t = cdiv(v[2], L)
  elseif alg == 'f' then t = v[1] + W - now
  else t = (v[1] + 2) * W - now
  end
  if t < 1 then return 1 end
  return t
end

local function remaining(v, L, W)
  if alg == 'g' then return idiv(max0(W * L - v[2]), W)
  elseif alg == 'f' then return max0(L - v[2])
  else return idiv(max0(L * W - (v[3] * (W - v[4]) + v[2] * W)), W)
  end
end

local function full_reset(v, L, W)
  if alg == 'g' then return cdiv(v[2], L)
  elseif alg == 'f' then
    if v[2] > 0 then return v[1] + W - now end
    return 0
  else
    if v[2] > 0 then return 2 * W - v[4] end
    if v[3] > 0 then return W - v[4] end
    return 0
  end
end

local function wait(v, L, W, units)
  if fits(v, L, W, units) then return 0 end
  if units > L then return NEVER end
  if alg == 'g' then return cdiv(v[2] + units * W - W * L, L)
  elseif alg == 'f' then return v[1] + W - now
  else
    local curr, prev, e = v[2], v[3], v[4]
    if curr + units <= L and prev > 0 then
      local e1 = W - idiv((L - curr - units) * W, prev)
      if e1 < W then return e1 - e end
    end
    local e2 = 0
    if curr > 0 then e2 = max0(W - idiv((L - units) * W, curr)) end
    return (W - e) + e2
  end
end

local views, fit, admitted = {}, {}, true
for i = 1, n do
  local L, W = tonumber(ARGV[3 + 2 * i]), tonumber(ARGV[4 + 2 * i])
  views[i] = view(redis.call('GET', KEYS[i + 1]), L, W)
  fit[i] = fits(views[i], L, W, cost)
  if not fit[i] then admitted = false end
end

local out = {0, admitted and 1 or 0}
for i = 1, n do
  local L, W = tonumber(ARGV[3 + 2 * i]), tonumber(ARGV[4 + 2 * i])
  local v = views[i]
  if admitted then
    v = consume(v, W)
    redis.call('SET', KEYS[i + 1], int(v[1]) .. ' ' .. int(v[2]) .. ' ' .. int(v[3]),
      'PX', int(ttl(v, L, W)))
  end
  out[#out + 1] = fit[i] and 0 or 1
  out[#out + 1] = remaining(v, L, W)
  out[#out + 1] = full_reset(v, L, W)
  out[#out + 1] = wait(v, L, W, 1)
  out[#out + 1] = fit[i] and 0 or wait(v, L, W, cost)
end

if admitted then
  local record = {}
  for i = 2, #out do record[#record + 1] = int(out[i]) end
  redis.call('SET', KEYS[1], table.concat(record, ' '), 'PX', ARGV[4])
end
return out
