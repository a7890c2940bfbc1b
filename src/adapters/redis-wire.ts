/**
 * The wire side of the Redis adapters: arguments for the scripts, parsing their replies, script SHAs
 * (EVALSHA's names), out-of-memory and NOSCRIPT detection, and cluster hash slots for batching.
 * @module
 */
import type { LockRequest, LockRequests, PeekManyReply, ReadReply, Slot, WriteRequest, WriteResult } from './adapter.js'
import { READ_MANY_LOCAL_SCRIPT, READ_MANY_SCRIPT } from './redis-batch-scripts.js'
import {
  COMMIT_TAGS_SCRIPT,
  EXTEND_SCRIPT,
  INVALIDATE_SCRIPT,
  INVALIDATE_TAGS_SCRIPT,
  READ_SCRIPT,
  READ_TAGS_SCRIPT,
  RELEASE_SCRIPT,
  TOMBSTONE_SCRIPT,
  WRITE_SCRIPT,
} from './redis-scripts.js'
import { formatSlot, markerSlot, parseSlot } from './slot.js'

/**
 * Throws when the reply of {@link INVALIDATE_TAGS_SCRIPT} says a record was deleted instead of stamped, or is not
 * its reply at all (@upstash/redis built with a static `signal` resolves an aborted request with the abort reason:
 * taken for done, the invalidation would be lost without a word).
 */
export function checkTagInvalidation(raw: unknown): void {
  if (typeof raw === 'string' && raw.startsWith('D|')) {
    throw new Error(`${raw.slice(2)} (the tag records were deleted instead, so no entry carrying them is served)`)
  }
  if (Number(raw) !== 1) throw new TypeError('unexpected reply to invalidateTags')
}

/** Throws when the reply of {@link TOMBSTONE_SCRIPT} says the key was deleted instead of tombstoned, or is not its reply. */
export function checkTombstone(raw: unknown): void {
  if (typeof raw === 'string' && raw.startsWith('D|')) {
    throw new Error(`${raw.slice(2)} (the key was deleted instead, so no stale value survives)`)
  }
  if (Number(raw) !== 1) throw new TypeError('unexpected reply to invalidate')
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
export function readArgs(lock: LockRequest | undefined, tagTtl: number): string[] {
  if (!lock) return ['0', '', '0', '0', String(tagTtl)]
  return [lock.force ? '2' : '1', lock.token, String(lock.ttl), String(lock.keep), String(tagTtl)]
}

/** The value a tombstone of generation `gen` is stored as. */
export function tombstone(gen: string): string {
  return formatSlot(markerSlot(gen))
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

/** Parses an `MGET key… tag…` reply (the adapters' `peekMany`): `count` slots, then the tag records' stamps. */
export function parsePeekMany(raw: unknown, count: number, tagCount: number): PeekManyReply {
  if (!Array.isArray(raw) || raw.length !== count + tagCount) throw new TypeError('unexpected reply to peekMany')
  const slots: (Slot | null | 'garbage')[] = new Array(count)
  for (let i = 0; i < count; i++) slots[i] = parsePeek(raw[i])
  const stamps = raw.slice(count).map((v: unknown) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : Number.NaN
    return Number.isFinite(n) ? n : null
  })
  return { slots, stamps }
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

/** Args for {@link READ_MANY_SCRIPT} (and, followed by the keys, {@link READ_MANY_LOCAL_SCRIPT}) for `count` keys. */
export function readManyArgs(count: number, locks: LockRequests | undefined, tagTtl: number): string[] {
  if (!locks) return ['0', String(count), '0', '0', String(tagTtl), ...Array.from({ length: count }, () => '')]
  return ['1', String(count), String(locks.ttl), String(locks.keep), String(tagTtl), ...locks.tokens]
}

/**
 * Parses the reply of {@link READ_MANY_SCRIPT} (and {@link READ_MANY_LOCAL_SCRIPT}): one {@link ReadReply} per key,
 * each with the tag stamps read first. Throws on a reply that is not one.
 */
export function parseReadManyReply(raw: unknown, count: number): ReadReply[] {
  if (!Array.isArray(raw) || raw.length !== count + 3) throw new TypeError('unexpected reply to readMany')
  const pre = raw[0]
  let tags: number[] | undefined
  if (typeof pre === 'string' && pre !== '') {
    tags = pre.slice(1, -1).split(',').map(Number)
    if (pre[0] !== 'T' || !tags.every(Number.isFinite))
      throw new TypeError('unexpected reply to readMany: bad tag stamps')
  }
  // @upstash/redis with automatic deserialisation hands the server time over as a number.
  const time: unknown = raw[1]
  const now = typeof time === 'number' ? time : typeof time === 'string' && time !== '' ? Number(time) : Number.NaN
  if (!Number.isFinite(now)) throw new TypeError('unexpected reply to readMany: no server time')
  const statuses: unknown = raw[2]
  if (typeof statuses !== 'string' || statuses.length !== count) {
    throw new TypeError('unexpected reply to readMany: bad statuses')
  }
  const replies: ReadReply[] = new Array(count)
  for (let i = 0; i < count; i++) {
    const text: unknown = raw[i + 3]
    const reply = entryReply(statuses[i] as string, now, typeof text === 'string' && text !== '' ? text : undefined)
    if (tags) {
      reply.tagStamps = tags
      reply.tagNow = now
    }
    replies[i] = reply
  }
  return replies
}

function parseEntryReply(raw: unknown): ReadReply {
  if (typeof raw !== 'string' || raw[1] !== '|') throw new TypeError(`unexpected reply to read: ${typeof raw}`)
  const bar = raw.indexOf('|', 2)
  const time = bar === -1 ? raw.slice(2) : raw.slice(2, bar)
  const now = time === '' ? Number.NaN : Number(time)
  if (!Number.isFinite(now)) throw new TypeError('unexpected reply to read: no server time')
  return entryReply(raw[0] as string, now, bar === -1 ? undefined : raw.slice(bar + 1))
}

/** One key's read from its status letter, the server time and the slot's text (absent for N and G). */
function entryReply(status: string, now: number, text: string | undefined): ReadReply {
  if (status === 'N') return { now, slot: null, garbage: false, lock: 'none' }
  if (status === 'G') return { now, slot: null, garbage: true, lock: 'none' }
  const slot = text === undefined ? null : parseSlot(text)
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
  readMany: script(READ_MANY_SCRIPT),
  readManyLocal: script(READ_MANY_LOCAL_SCRIPT),
  write: script(WRITE_SCRIPT),
  release: script(RELEASE_SCRIPT),
  extend: script(EXTEND_SCRIPT),
  invalidate: script(INVALIDATE_SCRIPT),
  readTags: script(READ_TAGS_SCRIPT),
  invalidateTags: script(INVALIDATE_TAGS_SCRIPT),
  commitTags: script(COMMIT_TAGS_SCRIPT),
  tombstone: script(TOMBSTONE_SCRIPT),
} as const

/** True for Redis' "NOSCRIPT No matching script" reply, whatever client wrapped it. */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && /NOSCRIPT/i.test(error.message)
}

/** Args for {@link WRITE_SCRIPT}. */
/**
 * Whether a write is announced: `always`, or `if-heard` (only when the channel has a subscriber on the
 * server that runs it: standalone servers only, see the WRITE script), or `never`.
 */
export type AnnounceWrites = 'always' | 'if-heard' | 'never'

export function writeArgs(r: WriteRequest, announce: AnnounceWrites = 'never'): string[] {
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
    announce === 'always' ? '1' : announce === 'if-heard' ? '2' : '0',
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
