/**
 * The Lua scripts shared by the Redis adapters (ioredis, node-redis, Upstash), and the slot layout they
 * read and write. Reply parsing, arguments and script SHAs are in `redis-wire.ts`.
 *
 * A slot is one Redis string at the entry's key:
 *   `cw1|<gen>|<lockToken>|<lockUntil>|<createdAt>|<freshUntil>|<staleUntil>|<errorUntil>\n<body>`
 * Markers (tombstones, locks on absent keys) have an empty body. Keeping the lock and the
 * generation inside the entry's own key means every script touches exactly one key: no companion
 * keys, no hash-tag tricks, no CROSSSLOT on a cluster whatever braces the user's key contains.
 * The value never starts with JSON, so @upstash/redis' automatic deserialisation leaves it alone.
 *
 * Scripts are constants: user input only ever travels in KEYS and ARGV.
 * @module
 */

/**
 * Channel on which every change is announced, in the same atomic step as the change: an entry written
 * or tombstoned, tag records stamped, a lock released. The message is a JSON array: `["k", gen, key…]`
 * entries written or tombstoned with the new generation `gen` (the writer knows it is its own),
 * `["t", tagKey…]` tag records, `["r", key]` a released lock. Processes
 * waiting on another's lock wake on it instead of at their next poll, and an in-process tier (`l1`)
 * drops what it names. Best effort: the scripts use `redis.pcall`, so an ACL user without PUBLISH still
 * writes (its waiters poll; `l1` then needs an explicit `ttl`).
 */
export const WRITTEN_CHANNEL = 'cacheward:written'

/**
 * Lua: `announce(kind, keys, gen, ifHeard)` publishes `[kind, gen?, key…]` on {@link WRITTEN_CHANNEL}, each a
 * JSON string (quotes, backslashes and control bytes escaped; UTF-8 passes through as JSON allows). With
 * `ifHeard`, only when the channel has a subscriber on this server: a write nobody listens to skips the
 * message (measured: about 8 µs of a 19 µs write script). Standalone servers only: on a cluster a
 * subscriber on another node hears a PUBLISH that this node's count does not include. Skipping is safe:
 * the server runs commands one at a time, so a subscription confirmed after this write misses nothing
 * that a tier may hold (it trusts only reads sent after the confirmation) or a waiter needs (it polls).
 */
const ANNOUNCE = `local function json(s)
  if not string.find(s, '[%c"\\\\]') then return '"' .. s .. '"' end
  return '"' .. (string.gsub(s, '[%c"\\\\]', function(c) return string.format('\\\\u%04x', string.byte(c)) end)) .. '"'
end
local function announce(kind, keys, gen, ifHeard)
  if #keys == 0 then return end
  if ifHeard then
    local n = redis.pcall('PUBSUB', 'NUMSUB', '${WRITTEN_CHANNEL}')
    if type(n) == 'table' and n[2] == 0 then return end
  end
  local out = {}
  if gen then out[1] = json(gen) end
  for _, k in ipairs(keys) do out[#out + 1] = json(k) end
  redis.pcall('PUBLISH', '${WRITTEN_CHANNEL}', '["' .. kind .. '",' .. table.concat(out, ',') .. ']')
end`

// `now`: server ms (integer, for expiry arithmetic). `precise`: the same instant in ms with 3 decimals
// (microseconds), as a string, for ordering loads against tag invalidations that land in the same ms;
// `exact`: that as a number, for comparing with times the client sends.
export const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local precise = now .. '.' .. string.format('%03d', tonumber(t[2]) % 1000)
local exact = tonumber(precise)`

/**
 * Lua (after {@link NOW}): `readTagStamps(first, last, ttl)` reads the tag records KEYS[first..last], creating a
 * missing one stamped a microsecond before `precise` that lives `ttl` ms; returns `T<stamp>,<stamp>…|`, or `''`
 * when there are none.
 */
export const READ_TAG_STAMPS = `local function readTagStamps(first, last, ttl)
  if last < first then return '' end
  local out = {}
  for i = first, last do
    local v = redis.pcall('GET', KEYS[i])
    if type(v) ~= 'string' or not tonumber(v) then
      v = string.format('%.3f', tonumber(precise) - 0.001)
      redis.call('SET', KEYS[i], v, 'PX', ttl)
    end
    out[#out + 1] = v
  end
  return 'T' .. table.concat(out, ',') .. '|'
end`

/**
 * Lua (after {@link NOW}): `readEntry(key, mode, token, lockTtl, keep, known)` is the read of one entry key, shared
 * by the single read and the batched one so both do exactly the same per key: mode '0' read only, '1' take the lock
 * when not fresh, '2' take it even when fresh. `known`: the key's string value when the caller already read it (a
 * batch's MGET), else the key is read here. Returns the status (see {@link READ_SCRIPT}) and, but for N and G, the
 * slot as it now stands.
 */
export const READ_ENTRY = `local function readEntry(key, mode, token, lockTtl, keep, known)
  local lock = mode ~= '0'
  local s = known or redis.pcall('GET', key)
  if type(s) == 'table' then s = '' end
  if s then
    local g, lt, lu, c, fu, su, eu, pos = string.match(s, '^cw1|([^|]*)|([^|]*)|(%d*)|([%d.]*)|(%d*)|(%d*)|(%d*)\\n()')
    if not g then
      if not lock then return 'G' end
    else
      if (not lock) or (tonumber(fu) > now and mode ~= '2') then return 'R', s end
      if lt ~= '' and lt ~= token and tonumber(lu) > now then return 'H', s end
      local n = 'cw1|' .. g .. '|' .. token .. '|' .. (now + tonumber(lockTtl)) .. '|' .. c .. '|' .. fu .. '|' .. su .. '|' .. eu .. '\\n' .. string.sub(s, pos)
      redis.call('SET', key, n, 'KEEPTTL')
      if redis.call('PTTL', key) < tonumber(keep) then redis.call('PEXPIRE', key, keep) end
      return 'A', n
    end
  end
  if not lock then return 'N' end
  local m = 'cw1|' .. token .. '|' .. token .. '|' .. (now + tonumber(lockTtl)) .. '|0|0|0|0\\n'
  redis.call('SET', key, m, 'PX', math.max(tonumber(lockTtl), tonumber(keep)))
  if s then return 'X', m end
  return 'A', m
end`

/**
 * KEYS[1] entry key, KEYS[2..] tag records to read beside it (standalone and Upstash: one script, so
 * a tagged read is one round trip and missing records are created before the entry's time is taken).
 * ARGV[1] '0' read only, '1' take the lock when not fresh, '2' take it even when fresh (a tag
 * invalidated the entry); ARGV[2] token, ARGV[3] lock ttl ms, ARGV[4] ms the key is kept at least once
 * locked (the lock itself still ends at lockUntil), ARGV[5] tag record ttl ms.
 * Returns `[T<stamp>,<stamp>…|]<status>|<now>|<slot>`: N absent, G garbage, R read, H lock held
 * elsewhere, A lock acquired, X lock acquired over garbage. Idempotent for one token: a replay of the
 * same request (a client resending it after a reconnect) finds its own lock and answers A again.
 */
export const READ_SCRIPT = `${NOW}
${READ_TAG_STAMPS}
${READ_ENTRY}
local tags = readTagStamps(2, #KEYS, ARGV[5])
local status, slot = readEntry(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if slot then return tags .. status .. '|' .. precise .. '|' .. slot end
return tags .. status .. '|' .. precise`

/**
 * Lua that refuses (returns 0) unless every tag record in KEYS[first..] exists with a stamp before the
 * load's start, then keeps each at least `ttl` ms (a record created by a read lives only the fence
 * window; the entry carrying it may live far longer).
 */
const tagsReady = (first: number, startedAt: string, ttl: string) => `for i = ${first}, #KEYS do
  local v = redis.pcall('GET', KEYS[i])
  if type(v) ~= 'string' or not tonumber(v) or tonumber(v) >= tonumber(${startedAt}) then return 0 end
end
for i = ${first}, #KEYS do
  if redis.call('PTTL', KEYS[i]) < tonumber(${ttl}) / 2 then redis.call('PEXPIRE', KEYS[i], ${ttl}) end
end`

/**
 * KEYS[1] entry key, KEYS[2..] the tag records the entry carries (where they share its node: standalone,
 * Upstash). ARGV: 1 'f' fenced | 'u' unconditional, 2 fence generation, 3 backend ms of the read that
 * fenced it, 4 fence window ms, 5 deadline (backend ms, '' for none), 6 new generation, 7 ttl, 8 swr,
 * 9 sie, 10 expire-in ms, 11 body, 12 announce the write on {@link WRITTEN_CHANNEL}: '1' always, '2' when
 * someone listens on this server, '0' never, 13 backend ms
 * the load began (for the tag check), 14 ms to keep the tag records.
 * Returns 1 written; 0 refused (the key is absent or holds another generation, the fence window has
 * passed, or a tag record is missing or stamped at or after the load's start); -1 past the deadline.
 */
export const WRITE_SCRIPT = `${NOW}
${ANNOUNCE}
if ARGV[5] ~= '' and exact > tonumber(ARGV[5]) then return -1 end
if ARGV[1] == 'f' then
  if exact - tonumber(ARGV[3]) >= tonumber(ARGV[4]) then return 0 end
  local s = redis.pcall('GET', KEYS[1])
  if type(s) ~= 'string' or string.match(s, '^cw1|([^|]*)|') ~= ARGV[2] then return 0 end
end
${tagsReady(2, 'ARGV[13]', 'ARGV[14]')}
local fu = now + tonumber(ARGV[7])
redis.call('SET', KEYS[1], 'cw1|' .. ARGV[6] .. '||0|' .. precise .. '|' .. fu .. '|' .. (fu + tonumber(ARGV[8])) .. '|' .. (fu + tonumber(ARGV[9])) .. '\\n' .. ARGV[11], 'PX', ARGV[10])
if ARGV[12] ~= '0' then announce('k', { KEYS[1] }, ARGV[6], ARGV[12] == '2') end
return 1`

/**
 * KEYS: the tag records an entry carries, when they live in another cluster slot than the entry (sent
 * just before its write). ARGV[1] backend ms the load began, ARGV[2] ms to keep the records. Returns 1
 * when every record exists with a stamp before the load's start (each is then kept), else 0.
 */
export const COMMIT_TAGS_SCRIPT = `${tagsReady(1, 'ARGV[1]', 'ARGV[2]')}
return 1`

/**
 * KEYS[1] entry key, ARGV[1] token, ARGV[2] '1' to announce it. Clears the lock if the token still holds
 * it; keeps the slot and its expiry.
 */
export const RELEASE_SCRIPT = `${ANNOUNCE}
local s = redis.pcall('GET', KEYS[1])
if type(s) ~= 'string' then return 0 end
local g, lt, rest = string.match(s, '^cw1|([^|]*)|([^|]*)|%d*|(.*)$')
if lt ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], 'cw1|' .. g .. '||0|' .. rest, 'KEEPTTL')
if ARGV[2] == '1' then announce('r', { KEYS[1] }) end
return 1`

/** KEYS[1] entry key, ARGV[1] token, ARGV[2] ttl ms. Moves lockUntil to now + ttl if the token still holds the lock. */
export const EXTEND_SCRIPT = `local s = redis.pcall('GET', KEYS[1])
if type(s) ~= 'string' then return 0 end
local g, lt, rest = string.match(s, '^cw1|([^|]*)|([^|]*)|%d*|(.*)$')
if lt ~= ARGV[1] then return 0 end
${NOW}
redis.call('SET', KEYS[1], 'cw1|' .. g .. '|' .. lt .. '|' .. (now + tonumber(ARGV[2])) .. '|' .. rest, 'KEEPTTL')
return 1`

/**
 * KEYS[1] a key to invalidate (`delete()`), ARGV[1] the tombstone, ARGV[2] its ttl ms, ARGV[3] its generation
 * (for the announcement). Replaces the key with
 * the tombstone and announces it. Returns 1; `D|<error>` when the tombstone was refused (out of memory) and
 * the key deleted instead (DEL still works then, and an absent key refuses fenced writes as a tombstone does).
 */
export const TOMBSTONE_SCRIPT = `${ANNOUNCE}
local ok = redis.pcall('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if type(ok) == 'table' and ok.err then
  redis.call('DEL', KEYS[1])
  announce('k', KEYS, ARGV[3])
  return 'D|' .. ok.err
end
announce('k', KEYS, ARGV[3])
return 1`

/**
 * KEYS: keys found by SCAN (one slot on a cluster). ARGV[1] tombstone, ARGV[2] its ttl ms, ARGV[3] its
 * generation (for the announcement).
 * Tombstones every key that still exists; returns `{held, deleted}`: how many held an entry or foreign
 * data, and 1 when a tombstone was refused (out of memory) and the key deleted instead (DEL still works
 * then, and an absent key refuses fenced writes as a tombstone does). Looks at the first four bytes and
 * the last one only (GETRANGE): copying whole values blocked Redis for milliseconds per batch, which
 * every other client of the server waited out.
 */
export const INVALIDATE_SCRIPT = `${ANNOUNCE}
local n = 0
local deleted = 0
local changed = {}
for _, k in ipairs(KEYS) do
  local head = redis.pcall('GETRANGE', k, 0, 3)
  if type(head) == 'table' then
    redis.call('DEL', k)
    n = n + 1
    changed[#changed + 1] = k
  elseif head ~= '' or redis.call('EXISTS', k) == 1 then
    changed[#changed + 1] = k
    if head ~= 'cw1|' or redis.call('GETRANGE', k, -1, -1) ~= '\\n' then n = n + 1 end
    local ok = redis.pcall('SET', k, ARGV[1], 'PX', ARGV[2])
    if type(ok) == 'table' and ok.err then
      redis.call('DEL', k)
      deleted = 1
    end
  end
end
announce('k', changed, ARGV[3])
return {n, deleted}`

/**
 * KEYS: tag records (one slot). ARGV[1] ttl ms. Returns `T|<now>|<stamp>,<stamp>,…`; a missing record
 * is created a microsecond before now (see TagReply).
 */
export const READ_TAGS_SCRIPT = `${NOW}
local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.pcall('GET', k)
  if type(v) ~= 'string' or not tonumber(v) then
    v = string.format('%.3f', tonumber(precise) - 0.001)
    redis.call('SET', k, v, 'PX', ARGV[1])
  end
  out[i] = v
end
return 'T|' .. precise .. '|' .. table.concat(out, ',')`

/**
 * KEYS: tag records (one slot). ARGV[1] ttl ms. Stamps each with TIME, never going backwards. Returns 1;
 * `D|<error>` when a stamp was refused (out of memory) and the record deleted instead: a missing record
 * is never trusted, so entries carrying the tag are not served either way.
 */
export const INVALIDATE_TAGS_SCRIPT = `${NOW}
${ANNOUNCE}
local refused = nil
for _, k in ipairs(KEYS) do
  local cur = redis.pcall('GET', k)
  local stamp = precise
  if type(cur) == 'string' and tonumber(cur) and tonumber(cur) >= exact then
    stamp = string.format('%.3f', tonumber(cur) + 0.001)
  end
  local ok = redis.pcall('SET', k, stamp, 'PX', ARGV[1])
  if type(ok) == 'table' and ok.err then
    redis.call('DEL', k)
    refused = ok.err
  end
end
announce('t', KEYS)
if refused then return 'D|' .. refused end
return 1`
