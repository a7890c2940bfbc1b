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
import type { ReadReply, Slot } from './adapter.js'

// \`now\`: server ms (integer, for expiry arithmetic). \`precise\`: the same instant in ms with 3 decimals
// (microseconds), as a string, for ordering loads against tag invalidations that land in the same ms.
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local precise = now .. '.' .. string.format('%03d', tonumber(t[2]) % 1000)`

/**
 * KEYS[1] entry key. ARGV[1] '0' read only, '1' take the lock when not fresh, '2' take it even when
 * fresh (a tag invalidated the entry); ARGV[2] token, ARGV[3] lock ttl ms, ARGV[4] ms the key is kept
 * at least once locked (the lock itself still ends at lockUntil).
 * Returns `<status>|<now>|<slot>`: N absent, G garbage, R read, H lock held elsewhere,
 * A lock acquired, X lock acquired over garbage.
 */
export const READ_SCRIPT = `${NOW}
local lock = ARGV[1] ~= '0'
local s = redis.pcall('GET', KEYS[1])
if type(s) == 'table' then s = '' end
if s then
  local g, lt, lu, c, fu, su, eu, pos = string.match(s, '^cw1|([^|]*)|([^|]*)|(%d*)|([%d.]*)|(%d*)|(%d*)|(%d*)\\n()')
  if not g then
    if not lock then return 'G|' .. precise end
  else
    if (not lock) or (tonumber(fu) > now and ARGV[1] ~= '2') then return 'R|' .. precise .. '|' .. s end
    if lt ~= '' and tonumber(lu) > now then return 'H|' .. precise .. '|' .. s end
    local n = 'cw1|' .. g .. '|' .. ARGV[2] .. '|' .. (now + tonumber(ARGV[3])) .. '|' .. c .. '|' .. fu .. '|' .. su .. '|' .. eu .. '\\n' .. string.sub(s, pos)
    redis.call('SET', KEYS[1], n, 'KEEPTTL')
    if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
    return 'A|' .. precise .. '|' .. n
  end
end
if not lock then return 'N|' .. precise end
local m = 'cw1|' .. ARGV[2] .. '|' .. ARGV[2] .. '|' .. (now + tonumber(ARGV[3])) .. '|0|0|0|0\\n'
redis.call('SET', KEYS[1], m, 'PX', math.max(tonumber(ARGV[3]), tonumber(ARGV[4])))
if s then return 'X|' .. precise .. '|' .. m end
return 'A|' .. precise .. '|' .. m`

/**
 * KEYS[1] entry key. ARGV: 1 'f' fenced | 'u' unconditional, 2 fence, 3 new gen, 4 ttl, 5 swr, 6 sie,
 * 7 expire-in ms, 8 body. Returns 1 when written, 0 when the fence refused it.
 */
export const WRITE_SCRIPT = `if ARGV[1] == 'f' then
  local s = redis.pcall('GET', KEYS[1])
  if s then
    if type(s) ~= 'string' or string.match(s, '^cw1|([^|]*)|') ~= ARGV[2] then return 0 end
  end
end
${NOW}
local fu = now + tonumber(ARGV[4])
redis.call('SET', KEYS[1], 'cw1|' .. ARGV[3] .. '||0|' .. precise .. '|' .. fu .. '|' .. (fu + tonumber(ARGV[5])) .. '|' .. (fu + tonumber(ARGV[6])) .. '\\n' .. ARGV[8], 'PX', ARGV[7])
return 1`

/** KEYS[1] entry key, ARGV[1] token. Clears the lock if the token still holds it; keeps the slot and its expiry. */
export const RELEASE_SCRIPT = `local s = redis.pcall('GET', KEYS[1])
if type(s) ~= 'string' then return 0 end
local g, lt, rest = string.match(s, '^cw1|([^|]*)|([^|]*)|%d*|(.*)$')
if lt ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], 'cw1|' .. g .. '||0|' .. rest, 'KEEPTTL')
return 1`

/**
 * KEYS: keys found by SCAN (one slot on a cluster). ARGV[1] tombstone, ARGV[2] its ttl ms.
 * Tombstones every key that still exists; returns how many held an entry or foreign data.
 */
export const INVALIDATE_SCRIPT = `local n = 0
for _, k in ipairs(KEYS) do
  local s = redis.pcall('GET', k)
  if type(s) == 'table' then
    redis.call('DEL', k)
    n = n + 1
  elseif s then
    if string.sub(s, 1, 4) ~= 'cw1|' or string.sub(s, -1) ~= '\\n' then n = n + 1 end
    redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
  end
end
return n`

/**
 * KEYS: tag records (one slot). ARGV[1] ttl ms, ARGV[2] stamp to create missing records with ('' to
 * leave them missing, 'now' for a microsecond before now). Returns `T|<now>|<stamp>,<stamp>,…` with an empty field for a missing record.
 */
export const READ_TAGS_SCRIPT = `${NOW}
local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.pcall('GET', k)
  if type(v) ~= 'string' or not tonumber(v) then
    v = ''
    if ARGV[2] ~= '' then
      v = ARGV[2]
      if v == 'now' then v = string.format('%.3f', tonumber(precise) - 0.001) end
      redis.call('SET', k, v, 'PX', ARGV[1])
    end
  end
  out[i] = v
end
return 'T|' .. precise .. '|' .. table.concat(out, ',')`

/** KEYS: tag records (one slot). ARGV[1] ttl ms. Stamps each with TIME, never going backwards. */
export const INVALIDATE_TAGS_SCRIPT = `${NOW}
for _, k in ipairs(KEYS) do
  local cur = redis.pcall('GET', k)
  local stamp = precise
  if type(cur) == 'string' and tonumber(cur) and tonumber(cur) >= tonumber(precise) then
    stamp = string.format('%.3f', tonumber(cur) + 0.001)
  end
  redis.call('SET', k, stamp, 'PX', ARGV[1])
end
return 1`

/** Parses the reply of {@link READ_TAGS_SCRIPT}. */
export function parseTagReply(raw: unknown, count: number): { now: number; stamps: (number | null)[] } {
  if (typeof raw !== 'string' || !raw.startsWith('T|'))
    throw new TypeError(`unexpected reply to readTags: ${typeof raw}`)
  const bar = raw.indexOf('|', 2)
  const now = bar > 2 ? Number(raw.slice(2, bar)) : Number.NaN
  const fields = raw.slice(bar + 1).split(',')
  if (!Number.isFinite(now) || fields.length !== count) throw new TypeError('unexpected reply to readTags')
  return { now, stamps: fields.map((f) => (f === '' ? null : Number(f))) }
}

/** Args for {@link READ_TAGS_SCRIPT}. */
export function readTagsArgs(ttl: number, createAt: number | 'now' | undefined): string[] {
  return [String(ttl), createAt === undefined ? '' : createAt === 'now' ? 'now' : createAt.toFixed(3)]
}

/** Args for {@link READ_SCRIPT}. */
export function readArgs(lock: import('./adapter.js').LockRequest | undefined): string[] {
  if (!lock) return ['0', '', '0', '0']
  return [lock.force ? '2' : '1', lock.token, String(lock.ttl), String(lock.keep)]
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

/** Parses the reply of {@link READ_SCRIPT}. Throws on a reply that is not one (a broken proxy, say). */
export function parseReadReply(raw: unknown): ReadReply {
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

/** Script source and its SHA-1, computed once with Web Crypto (edge-safe; no node:crypto). */
export interface Script {
  readonly source: string
  sha(): Promise<string>
}

function script(source: string): Script {
  let sha: Promise<string> | undefined
  return {
    source,
    sha: () => {
      sha ??= crypto.subtle
        .digest('SHA-1', new TextEncoder().encode(source))
        .then((buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join(''))
      return sha
    },
  }
}

export const scripts = {
  read: script(READ_SCRIPT),
  write: script(WRITE_SCRIPT),
  release: script(RELEASE_SCRIPT),
  invalidate: script(INVALIDATE_SCRIPT),
  readTags: script(READ_TAGS_SCRIPT),
  invalidateTags: script(INVALIDATE_TAGS_SCRIPT),
} as const

/** True for Redis' "NOSCRIPT No matching script" reply, whatever client wrapped it. */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && /NOSCRIPT/i.test(error.message)
}

/** Args for {@link WRITE_SCRIPT}. */
export function writeArgs(r: import('./adapter.js').WriteRequest): string[] {
  return [
    r.fence === null ? 'u' : 'f',
    r.fence ?? '',
    r.gen,
    String(r.ttl),
    String(r.staleWhileRevalidate),
    String(r.staleIfError),
    String(Math.max(1, Math.round(r.expireIn))),
    r.body,
  ]
}

/** How many keys one SCAN page asks for, and the batch size of one invalidation script. */
export const SCAN_COUNT = 1000

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
