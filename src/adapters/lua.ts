/**
 * The wire format and Lua scripts shared by the Redis adapters (ioredis, Upstash).
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
import type { ReadReply, Slot, WriteRequest, WriteResult } from './adapter.js'

// \`now\`: server ms (integer, for expiry arithmetic). \`precise\`: the same instant in ms with 3 decimals
// (microseconds), as a string, for ordering loads against tag invalidations that land in the same ms.
/**
 * Channel on which writes and lock releases are announced (the message is the key), so processes
 * waiting on another's lock wake at once instead of at their next poll. Best effort: the scripts use
 * `redis.pcall`, so an ACL user without PUBLISH still writes (its waiters poll).
 */
export const WRITTEN_CHANNEL = 'cacheward:written'

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local precise = now .. '.' .. string.format('%03d', tonumber(t[2]) % 1000)
local exact = tonumber(precise)`

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
local pre = ''
if #KEYS > 1 then
  local out = {}
  for i = 2, #KEYS do
    local v = redis.pcall('GET', KEYS[i])
    if type(v) ~= 'string' or not tonumber(v) then
      v = string.format('%.3f', tonumber(precise) - 0.001)
      redis.call('SET', KEYS[i], v, 'PX', ARGV[5])
    end
    out[i - 1] = v
  end
  pre = 'T' .. table.concat(out, ',') .. '|'
end
local lock = ARGV[1] ~= '0'
local s = redis.pcall('GET', KEYS[1])
if type(s) == 'table' then s = '' end
if s then
  local g, lt, lu, c, fu, su, eu, pos = string.match(s, '^cw1|([^|]*)|([^|]*)|(%d*)|([%d.]*)|(%d*)|(%d*)|(%d*)\\n()')
  if not g then
    if not lock then return pre .. 'G|' .. precise end
  else
    if (not lock) or (tonumber(fu) > now and ARGV[1] ~= '2') then return pre .. 'R|' .. precise .. '|' .. s end
    if lt ~= '' and lt ~= ARGV[2] and tonumber(lu) > now then return pre .. 'H|' .. precise .. '|' .. s end
    local n = 'cw1|' .. g .. '|' .. ARGV[2] .. '|' .. (now + tonumber(ARGV[3])) .. '|' .. c .. '|' .. fu .. '|' .. su .. '|' .. eu .. '\\n' .. string.sub(s, pos)
    redis.call('SET', KEYS[1], n, 'KEEPTTL')
    if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
    return pre .. 'A|' .. precise .. '|' .. n
  end
end
if not lock then return pre .. 'N|' .. precise end
local m = 'cw1|' .. ARGV[2] .. '|' .. ARGV[2] .. '|' .. (now + tonumber(ARGV[3])) .. '|0|0|0|0\\n'
redis.call('SET', KEYS[1], m, 'PX', math.max(tonumber(ARGV[3]), tonumber(ARGV[4])))
if s then return pre .. 'X|' .. precise .. '|' .. m end
return pre .. 'A|' .. precise .. '|' .. m`

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
 * 9 sie, 10 expire-in ms, 11 body, 12 '1' to announce the write on {@link WRITTEN_CHANNEL}, 13 backend ms
 * the load began (for the tag check), 14 ms to keep the tag records.
 * Returns 1 written; 0 refused (the key is absent or holds another generation, the fence window has
 * passed, or a tag record is missing or stamped at or after the load's start); -1 past the deadline.
 */
export const WRITE_SCRIPT = `${NOW}
if ARGV[5] ~= '' and exact > tonumber(ARGV[5]) then return -1 end
if ARGV[1] == 'f' then
  if exact - tonumber(ARGV[3]) >= tonumber(ARGV[4]) then return 0 end
  local s = redis.pcall('GET', KEYS[1])
  if type(s) ~= 'string' or string.match(s, '^cw1|([^|]*)|') ~= ARGV[2] then return 0 end
end
${tagsReady(2, 'ARGV[13]', 'ARGV[14]')}
local fu = now + tonumber(ARGV[7])
redis.call('SET', KEYS[1], 'cw1|' .. ARGV[6] .. '||0|' .. precise .. '|' .. fu .. '|' .. (fu + tonumber(ARGV[8])) .. '|' .. (fu + tonumber(ARGV[9])) .. '\\n' .. ARGV[11], 'PX', ARGV[10])
if ARGV[12] == '1' then redis.pcall('PUBLISH', '${WRITTEN_CHANNEL}', KEYS[1]) end
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
export const RELEASE_SCRIPT = `local s = redis.pcall('GET', KEYS[1])
if type(s) ~= 'string' then return 0 end
local g, lt, rest = string.match(s, '^cw1|([^|]*)|([^|]*)|%d*|(.*)$')
if lt ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], 'cw1|' .. g .. '||0|' .. rest, 'KEEPTTL')
if ARGV[2] == '1' then redis.pcall('PUBLISH', '${WRITTEN_CHANNEL}', KEYS[1]) end
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
 * KEYS: keys found by SCAN (one slot on a cluster). ARGV[1] tombstone, ARGV[2] its ttl ms.
 * Tombstones every key that still exists; returns `{held, deleted}`: how many held an entry or foreign
 * data, and 1 when a tombstone was refused (out of memory) and the key deleted instead (DEL still works
 * then, and an absent key refuses fenced writes as a tombstone does). Looks at the first four bytes and
 * the last one only (GETRANGE): copying whole values blocked Redis for milliseconds per batch, which
 * every other client of the server waited out.
 */
export const INVALIDATE_SCRIPT = `local n = 0
local deleted = 0
for _, k in ipairs(KEYS) do
  local head = redis.pcall('GETRANGE', k, 0, 3)
  if type(head) == 'table' then
    redis.call('DEL', k)
    n = n + 1
  elseif head ~= '' or redis.call('EXISTS', k) == 1 then
    if head ~= 'cw1|' or redis.call('GETRANGE', k, -1, -1) ~= '\\n' then n = n + 1 end
    local ok = redis.pcall('SET', k, ARGV[1], 'PX', ARGV[2])
    if type(ok) == 'table' and ok.err then
      redis.call('DEL', k)
      deleted = 1
    end
  end
end
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
if refused then return 'D|' .. refused end
return 1`

/** Throws when the reply of {@link INVALIDATE_TAGS_SCRIPT} says a record was deleted instead of stamped. */
export function checkTagInvalidation(raw: unknown): void {
  if (typeof raw === 'string' && raw.startsWith('D|')) {
    throw new Error(`${raw.slice(2)} (the tag records were deleted instead, so no entry carrying them is served)`)
  }
}

/** Parses the reply of {@link INVALIDATE_SCRIPT}: entries found; throws when some were deleted instead of tombstoned. */
export function parseInvalidateReply(raw: unknown): number {
  if (!Array.isArray(raw) || raw.length !== 2) throw new TypeError('unexpected reply to invalidate')
  if (Number(raw[1]) === 1) {
    throw new Error('OOM: a tombstone was refused (out of memory); the keys were deleted instead')
  }
  return Number(raw[0])
}

/** True for Redis' out-of-memory reply, whatever client wrapped it. */
export function isOutOfMemory(error: unknown): boolean {
  return error instanceof Error && /\bOOM\b/.test(error.message)
}

/** Parses the reply of {@link READ_TAGS_SCRIPT}. */
export function parseTagReply(raw: unknown, count: number): { now: number; stamps: number[] } {
  if (typeof raw !== 'string' || !raw.startsWith('T|'))
    throw new TypeError(`unexpected reply to readTags: ${typeof raw}`)
  const bar = raw.indexOf('|', 2)
  const now = bar > 2 ? Number(raw.slice(2, bar)) : Number.NaN
  const fields = raw.slice(bar + 1).split(',')
  const stamps = fields.map(Number)
  if (!Number.isFinite(now) || stamps.length !== count || !stamps.every(Number.isFinite)) {
    throw new TypeError('unexpected reply to readTags')
  }
  return { now, stamps }
}

/** Args for {@link READ_SCRIPT}. */
export function readArgs(lock: import('./adapter.js').LockRequest | undefined, tagTtl: number): string[] {
  if (!lock) return ['0', '', '0', '0', String(tagTtl)]
  return [lock.force ? '2' : '1', lock.token, String(lock.ttl), String(lock.keep), String(tagTtl)]
}

/** The value a tombstone of generation `gen` is stored as. */
export function tombstone(gen: string): string {
  return `cw1|${gen}||0|0|0|0|0\n`
}

/** Parses a stored slot string; `null` when it is not one of ours. */
export function parseSlot(raw: string): Slot | null {
  if (!raw.startsWith('cw1|')) return null
  const nl = raw.indexOf('\n')
  if (nl === -1) return null
  const f = raw.slice(4, nl).split('|')
  if (f.length !== 7) return null
  const num = (i: number) => Number(f[i])
  const slot: Slot = {
    gen: f[0] as string,
    lockToken: f[1] as string,
    lockUntil: num(2),
    createdAt: num(3),
    freshUntil: num(4),
    staleUntil: num(5),
    errorUntil: num(6),
    body: raw.slice(nl + 1),
  }
  return Number.isFinite(slot.freshUntil) && Number.isFinite(slot.lockUntil) ? slot : null
}

/**
 * Parses an `MGET entry tag…` reply (the adapters' `peekTagged`): a plain command, cheaper than any
 * script. Missing or non-numeric tag records come back `null`.
 */
export function parsePeekTagged(
  raw: unknown,
  count: number,
): { slot: Slot | null | 'garbage'; stamps: (number | null)[] } {
  if (!Array.isArray(raw) || raw.length !== count + 1) throw new TypeError('unexpected reply to peek')
  const stamps = raw.slice(1).map((v: unknown) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : Number.NaN
    return Number.isFinite(n) ? n : null
  })
  return { slot: parsePeek(raw[0]), stamps }
}

/** Parses the reply of a plain GET of an entry key (the adapters' `peek`). */
export function parsePeek(raw: unknown): Slot | null | 'garbage' {
  if (raw === null || raw === undefined) return null
  return typeof raw === 'string' ? (parseSlot(raw) ?? 'garbage') : 'garbage'
}

/** Parses the reply of {@link READ_SCRIPT}. Throws on a reply that is not one (a broken proxy, say). */
export function parseReadReply(input: unknown): ReadReply {
  let raw = input
  let tags: number[] | undefined
  if (typeof raw === 'string' && raw[0] === 'T') {
    const end = raw.indexOf('|')
    tags = raw.slice(1, end).split(',').map(Number)
    if (end === -1 || !tags.every(Number.isFinite)) throw new TypeError('unexpected reply to read: bad tag stamps')
    raw = raw.slice(end + 1)
  }
  const reply = parseEntryReply(raw)
  if (tags) {
    reply.tagStamps = tags
    reply.tagNow = reply.now
  }
  return reply
}

function parseEntryReply(raw: unknown): ReadReply {
  if (typeof raw !== 'string' || raw[1] !== '|') throw new TypeError(`unexpected reply to read: ${typeof raw}`)
  const status = raw[0]
  const bar = raw.indexOf('|', 2)
  const time = bar === -1 ? raw.slice(2) : raw.slice(2, bar)
  const now = time === '' ? Number.NaN : Number(time)
  if (!Number.isFinite(now)) throw new TypeError('unexpected reply to read: no server time')
  if (status === 'N') return { now, slot: null, garbage: false, lock: 'none' }
  if (status === 'G') return { now, slot: null, garbage: true, lock: 'none' }
  const slot = bar === -1 ? null : parseSlot(raw.slice(bar + 1))
  if (!slot) throw new TypeError('unexpected reply to read: malformed slot')
  switch (status) {
    case 'R':
      return { now, slot, garbage: false, lock: 'none' }
    case 'H':
      return { now, slot, garbage: false, lock: 'held' }
    case 'A':
      return { now, slot, garbage: false, lock: 'acquired' }
    case 'X':
      return { now, slot, garbage: true, lock: 'acquired' }
    default:
      throw new TypeError('unexpected reply to read: unknown status')
  }
}

/** Script source and its SHA-1 (EVALSHA's name for it). */
export interface Script {
  readonly source: string
  readonly sha: string
}

function script(source: string): Script {
  return { source, sha: sha1Hex(source) }
}

/**
 * SHA-1 of an ASCII string, synchronously. Web Crypto's digest is async, and an await before EVALSHA
 * let a later command overtake an earlier one on the same connection (a tag read and the entry read
 * it must precede). Scripts are constants, so this runs once per script at load.
 */
export function sha1Hex(text: string): string {
  const bytes = new TextEncoder().encode(text)
  const bitLength = bytes.length * 8
  const padded = new Uint8Array(Math.ceil((bytes.length + 9) / 64) * 64)
  padded.set(bytes)
  padded[bytes.length] = 0x80
  const view = new DataView(padded.buffer)
  view.setUint32(padded.length - 8, Math.floor(bitLength / 2 ** 32))
  view.setUint32(padded.length - 4, bitLength >>> 0)
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]
  const w = new Uint32Array(80)
  const rotl = (x: number, n: number) => (x << n) | (x >>> (32 - n))
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + i * 4)
    for (let i = 16; i < 80; i++)
      w[i] = rotl((w[i - 3] as number) ^ (w[i - 8] as number) ^ (w[i - 14] as number) ^ (w[i - 16] as number), 1)
    let [a, b, c, d, e] = h as [number, number, number, number, number]
    for (let i = 0; i < 80; i++) {
      const f = i < 20 ? (b & c) | (~b & d) : i < 40 ? b ^ c ^ d : i < 60 ? (b & c) | (b & d) | (c & d) : b ^ c ^ d
      const k = i < 20 ? 0x5a827999 : i < 40 ? 0x6ed9eba1 : i < 60 ? 0x8f1bbcdc : 0xca62c1d6
      const t = (rotl(a, 5) + f + e + k + (w[i] as number)) >>> 0
      e = d
      d = c
      c = rotl(b, 30) >>> 0
      b = a
      a = t
    }
    h[0] = ((h[0] as number) + a) >>> 0
    h[1] = ((h[1] as number) + b) >>> 0
    h[2] = ((h[2] as number) + c) >>> 0
    h[3] = ((h[3] as number) + d) >>> 0
    h[4] = ((h[4] as number) + e) >>> 0
  }
  return h.map((x) => x.toString(16).padStart(8, '0')).join('')
}

export const scripts = {
  read: script(READ_SCRIPT),
  write: script(WRITE_SCRIPT),
  release: script(RELEASE_SCRIPT),
  extend: script(EXTEND_SCRIPT),
  invalidate: script(INVALIDATE_SCRIPT),
  readTags: script(READ_TAGS_SCRIPT),
  invalidateTags: script(INVALIDATE_TAGS_SCRIPT),
  commitTags: script(COMMIT_TAGS_SCRIPT),
} as const

/** True for Redis' "NOSCRIPT No matching script" reply, whatever client wrapped it. */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && /NOSCRIPT/i.test(error.message)
}

/** Args for {@link WRITE_SCRIPT}. */
export function writeArgs(r: WriteRequest, announce = false): string[] {
  const { fence, tags } = r
  return [
    fence ? 'f' : 'u',
    fence?.gen ?? '',
    fence ? String(fence.readAt) : '',
    fence ? String(fence.window) : '',
    r.deadline === undefined ? '' : String(r.deadline),
    r.gen,
    String(r.ttl),
    String(r.staleWhileRevalidate),
    String(r.staleIfError),
    String(Math.max(1, Math.round(r.expireIn))),
    r.body,
    announce ? '1' : '0',
    tags ? String(tags.startedAt) : '',
    tags ? String(tags.ttl) : '',
  ]
}

/** Parses the reply of {@link WRITE_SCRIPT}. */
export function parseWriteReply(raw: unknown): WriteResult {
  const n = Number(raw)
  if (n === 1) return 'written'
  if (n === 0) return 'refused'
  if (n === -1) return 'late'
  throw new TypeError('unexpected reply to write')
}

/** How many keys one SCAN page asks for. */
export const SCAN_COUNT = 1000

/** Most keys one invalidation script handles, so a batch never blocks Redis for long. */
export const INVALIDATE_BATCH = 250

/** Splits keys into batches of {@link INVALIDATE_BATCH}. */
export function batches<T>(items: readonly T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += INVALIDATE_BATCH) out.push(items.slice(i, i + INVALIDATE_BATCH))
  return out
}

/** Redis Cluster hash slot of a key (CRC16/XMODEM of the hash tag or the whole key), for grouping batches by slot. */
export function clusterSlot(key: string): number {
  const bytes = new TextEncoder().encode(key)
  let start = 0
  let end = bytes.length
  const open = bytes.indexOf(0x7b) // {
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1) // }
    if (close > open + 1) {
      start = open + 1
      end = close
    }
  }
  let crc = 0
  for (let i = start; i < end; i++) {
    crc ^= (bytes[i] as number) << 8
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc % 16384
}
