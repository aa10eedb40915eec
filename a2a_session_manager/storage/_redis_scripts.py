"""The Lua script that applies a write to one session, atomically, server-side.

Running the merge inside Redis is what lets several processes write the same
session without losing or doubling anything: each call sees and updates the
event index in one step. The script touches only the keys of one session
(one hash tag, so one cluster slot) and is idempotent: replaying a call after
a dropped connection changes nothing, which makes client retries safe.

KEYS (see ``_redis_keys.SessionKeys``): meta props state events evidx runs runidx children
evuse

ARGV:
  1 ttl in seconds (0: no expiry)
  2 metadata mode: "merge" (incoming metadata) or "default" (only when missing)
  3 created_at text   4 created_at sort key (integer microseconds)
  5 updated_at text   6 updated_at sort key
  7 parent id ("" for none)    8 parent link (a ``ParentLink`` value)
  9 number of property pairs   10 state pairs   11 event pairs   12 run pairs
  13 number of child ids
  14 number of property keys removed   15 number of state keys removed
  16 "1" when a run in this write failed, else "0"
  then the property pairs (key, json), state pairs (key, json),
  event entries (id, json, tokens, cost in USD, "1" if it records an error),
  run pairs (id, json), child ids, property keys removed, state keys removed.

The summary the index needs is kept in ``meta`` (``n_events``, ``tokens``,
``cost``, ``errors``); an event replaced in place counts its new usage
instead of its old one (``evuse``).

Returns ``{appended, updated sort key, errors, {property, old json, ...},
{property, json, ...}}``: the number of events appended (replacements not
counted), what the index is updated with, the property values this write
replaced or removed, and every property now held. An index entry that points
outside its list fails the call with a ``CORRUPT`` error.
"""

from __future__ import annotations

import hashlib

APPLY_SCRIPT = """
local meta, props, state, events, evidx, runs, runidx, children, evuse =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local ttl = tonumber(ARGV[1])

if redis.call('EXISTS', meta) == 0 then
  redis.call('HSET', meta, 'created_at', ARGV[3], 'created_key', ARGV[4],
             'updated_at', ARGV[5], 'updated_key', ARGV[6])
elseif ARGV[2] == 'merge' then
  local created = tonumber(redis.call('HGET', meta, 'created_key'))
  if created == nil or tonumber(ARGV[4]) < created then
    redis.call('HSET', meta, 'created_at', ARGV[3], 'created_key', ARGV[4])
  end
  local updated = tonumber(redis.call('HGET', meta, 'updated_key'))
  if updated == nil or tonumber(ARGV[6]) > updated then
    redis.call('HSET', meta, 'updated_at', ARGV[5], 'updated_key', ARGV[6])
  end
end
if ARGV[7] ~= '' then
  redis.call('HSET', meta, 'parent_id', ARGV[7], 'parent_link', ARGV[8])
end

local n_props, n_state = tonumber(ARGV[9]), tonumber(ARGV[10])
local n_events, n_runs = tonumber(ARGV[11]), tonumber(ARGV[12])
local n_children = tonumber(ARGV[13])
local n_unset_props, n_unset_state = tonumber(ARGV[14]), tonumber(ARGV[15])
local pos = 17
local stale = {}
if ARGV[16] == '1' then
  redis.call('HSET', meta, 'errors', 1)
end

for _ = 1, n_props do
  local old = redis.call('HGET', props, ARGV[pos])
  if old and old ~= ARGV[pos + 1] then
    stale[#stale + 1] = ARGV[pos]
    stale[#stale + 1] = old
  end
  redis.call('HSET', props, ARGV[pos], ARGV[pos + 1])
  pos = pos + 2
end
for _ = 1, n_state do
  redis.call('HSET', state, ARGV[pos], ARGV[pos + 1])
  pos = pos + 2
end

-- An id already stored is replaced in place; a new id is appended.
local function upsert(list, index, id, doc)
  local at = redis.call('HGET', index, id)
  if at then
    local done = redis.pcall('LSET', list, tonumber(at) or -1, doc)
    if type(done) == 'table' and done.err then
      return {err = 'CORRUPT stored index points outside its list: ' .. done.err}
    end
    return 0
  end
  local length = redis.call('RPUSH', list, doc)
  redis.call('HSET', index, id, length - 1)
  return 1
end

local appended = 0
for _ = 1, n_events do
  local id, tokens, cost = ARGV[pos], tonumber(ARGV[pos + 2]), tonumber(ARGV[pos + 3])
  local added = upsert(events, evidx, id, ARGV[pos + 1])
  if type(added) == 'table' then return redis.error_reply(added.err) end
  appended = appended + added
  if added == 1 then
    redis.call('HINCRBY', meta, 'n_events', 1)
  else
    local old = redis.call('HGET', evuse, id)
    if old then
      local old_tokens, old_cost = string.match(old, '^(%S+) (%S+)$')
      tokens = tokens - tonumber(old_tokens)
      cost = cost - tonumber(old_cost)
    end
  end
  if tokens ~= 0 then redis.call('HINCRBY', meta, 'tokens', tokens) end
  if cost ~= 0 then redis.call('HINCRBYFLOAT', meta, 'cost', cost) end
  if ARGV[pos + 2] ~= '0' or ARGV[pos + 3] ~= '0' then
    redis.call('HSET', evuse, id, ARGV[pos + 2] .. ' ' .. ARGV[pos + 3])
  elseif added == 0 then
    redis.call('HDEL', evuse, id)
  end
  if ARGV[pos + 4] == '1' then
    redis.call('HSET', meta, 'errors', 1)
  end
  pos = pos + 5
end
for _ = 1, n_runs do
  local added = upsert(runs, runidx, ARGV[pos], ARGV[pos + 1])
  if type(added) == 'table' then return redis.error_reply(added.err) end
  pos = pos + 2
end
for _ = 1, n_children do
  local child = ARGV[pos]
  if not redis.call('ZSCORE', children, child) then
    redis.call('ZADD', children, redis.call('HINCRBY', meta, 'child_seq', 1), child)
  end
  pos = pos + 1
end
for _ = 1, n_unset_props do
  local old = redis.call('HGET', props, ARGV[pos])
  if old then
    stale[#stale + 1] = ARGV[pos]
    stale[#stale + 1] = old
  end
  redis.call('HDEL', props, ARGV[pos])
  pos = pos + 1
end
for _ = 1, n_unset_state do
  redis.call('HDEL', state, ARGV[pos])
  pos = pos + 1
end

if ttl > 0 then
  for i = 1, #KEYS do
    redis.call('EXPIRE', KEYS[i], ttl)
  end
end
return {appended, redis.call('HGET', meta, 'updated_key'), redis.call('HGET', meta, 'errors') or 0,
        stale, redis.call('HGETALL', props)}
"""

# EVALSHA by a digest computed here, so a pipelined write needs no SCRIPT
# EXISTS round trip; the store loads the script on NOSCRIPT.
APPLY_SCRIPT_SHA = hashlib.sha1(APPLY_SCRIPT.encode()).hexdigest()
