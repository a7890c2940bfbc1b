/**
 * `cacheward/memory`: an in-process store, the default backend. Bounded LRU (lru-cache), no
 * server, edge-safe. It keeps the same slots, generations and locks as the Redis adapters, so
 * every contract semantic holds; locks only coordinate callers of one process, of course.
 * @module
 */
import { LRUCache } from 'lru-cache'
import type { Clock } from '../clock.js'
import { systemClock } from '../clock.js'
import { CacheOptionsError } from '../errors.js'
import { globMatch } from '../keys.js'
import type {
  CacheAdapter,
  LockRequest,
  ReadReply,
  Slot,
  TagRead,
  TagReply,
  WriteRequest,
  WriteResult,
} from './adapter.js'
import { markerSlot } from './slot.js'

/** Options of {@link memoryAdapter}. */
export interface MemoryAdapterOptions {
  /**
   * Most keys kept; the least recently used go first.
   * @default 10000
   */
  maxEntries?: number
  /**
   * Most bytes of entry bodies kept (UTF-16 length), on top of `maxEntries`. Unset: no size bound.
   * @example memoryAdapter({ maxEntries: 50_000, maxSize: 64 * 1024 * 1024 })
   */
  maxSize?: number
  /**
   * Clock for freshness and expiry. Tests inject one to move time without sleeping.
   * @default Date.now
   */
  clock?: Clock
}

interface Stored extends Slot {
  expiresAt: number
}

/**
 * Creates the in-process adapter.
 * @example
 * const cache = createCacheClient({ adapter: memoryAdapter({ maxEntries: 5_000 }) })
 */
export function memoryAdapter(options: MemoryAdapterOptions = {}): CacheAdapter {
  // Unknown names are refused, as createCacheClient refuses them: lru-cache's `max` was silently ignored here.
  if (typeof options !== 'object' || options === null) {
    const got = options === null ? 'null' : typeof options
    throw new CacheOptionsError([
      { path: '(options)', message: `memoryAdapter(options) expected an object, got ${got}` },
    ])
  }
  const hints: Record<string, string> = { max: 'maxEntries', maxBytes: 'maxSize' }
  const unknown = Object.keys(options).filter((key) => key !== 'maxEntries' && key !== 'maxSize' && key !== 'clock')
  if (unknown.length > 0) {
    throw new CacheOptionsError(
      unknown.map((path) => ({
        path,
        message: `unknown option for memoryAdapter(); ${
          Object.hasOwn(hints, path) ? `did you mean ${hints[path]}?` : 'known: maxEntries, maxSize, clock'
        }`,
      })),
    )
  }
  const maxEntries = options.maxEntries ?? 10_000
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new CacheOptionsError([
      { path: 'maxEntries', message: `expected a positive integer, got ${String(maxEntries)}` },
    ])
  }
  if (options.maxSize !== undefined && !(Number.isInteger(options.maxSize) && options.maxSize > 0)) {
    throw new CacheOptionsError([
      { path: 'maxSize', message: `expected a positive integer, got ${String(options.maxSize)}` },
    ])
  }
  const clock = options.clock ?? systemClock
  // Strictly increasing, so a load that starts after an invalidation always has a later stamp than it,
  // even within one millisecond (Redis gets the same from TIME's microseconds).
  let last = 0
  const tick = (): number => {
    last = Math.max(clock.now(), last + 0.001)
    return last
  }
  const store = new LRUCache<string, Stored>({
    max: maxEntries,
    ...(options.maxSize ? { maxSize: options.maxSize, sizeCalculation: (s: Stored) => s.body.length + 64 } : {}),
  })

  // Tag records apart from entries, so entries never evict them; losing one is safe anyway (TagReply).
  const tags = new LRUCache<string, { stamp: number; expiresAt: number }>({ max: Math.max(1_000, maxEntries) })
  const tagStamp = (key: string, now: number, ttl: number): number => {
    const t = tags.get(key)
    if (t && t.expiresAt > now) return t.stamp
    tags.set(key, { stamp: now - 0.001, expiresAt: now + ttl })
    return now - 0.001
  }

  const live = (key: string, now: number): Stored | undefined => {
    const s = store.get(key)
    if (s && s.expiresAt <= now) {
      store.delete(key)
      return undefined
    }
    return s
  }

  const readSlot = (key: string, lock: LockRequest | undefined): ReadReply => {
    const now = tick()

    const s = live(key, now)
    if (!lock) return { now, slot: s ? { ...s } : null, garbage: false, lock: 'none' }
    if (s && s.freshUntil > now && !lock.force) return { now, slot: { ...s }, garbage: false, lock: 'none' }
    if (s && s.lockToken !== '' && s.lockToken !== lock.token && s.lockUntil > now) {
      return { now, slot: { ...s }, garbage: false, lock: 'held' }
    }
    const next: Stored = s
      ? { ...s, lockToken: lock.token, lockUntil: now + lock.ttl, expiresAt: Math.max(s.expiresAt, now + lock.keep) }
      : {
          ...markerSlot(lock.token, { token: lock.token, until: now + lock.ttl }),
          expiresAt: now + Math.max(lock.ttl, lock.keep),
        }
    store.set(key, next)
    return { now, slot: { ...next }, garbage: false, lock: 'acquired' }
  }

  return {
    name: 'memory',

    freshSync(key: string) {
      // The store's own time, as every read of it takes it (strictly increasing), so both judge freshness alike.
      const now = tick()
      const s = live(key, now)
      return s && s.body !== '' && s.freshUntil > now ? { now, slot: s } : undefined
    },

    stampsSync(keys: readonly string[]) {
      const now = clock.now()
      return keys.map((key) => {
        const t = tags.get(key)
        return t && t.expiresAt > now ? t.stamp : undefined
      })
    },

    async read(key: string, lock?: LockRequest, tagRead?: TagRead): Promise<ReadReply> {
      if (tagRead && tagRead.keys.length > 0) {
        // Tags first, as the Redis script does: a record created now is stamped before the read's time.
        const tagNow = tick()
        const tagStamps = tagRead.keys.map((k) => tagStamp(k, tagNow, tagRead.ttl))
        return { ...readSlot(key, lock), tagStamps, tagNow }
      }
      return readSlot(key, lock)
    },

    async write(key: string, r: WriteRequest): Promise<WriteResult> {
      const now = tick()
      if (r.deadline !== undefined && now > r.deadline) return 'late'
      if (r.fence !== null) {
        // An absent key refuses too: its tombstone may have been pushed out by the LRU bound.
        const s = live(key, now)
        if (!s || s.gen !== r.fence.gen || now - r.fence.readAt >= r.fence.window) return 'refused'
      }
      if (r.tags) {
        const records = r.tags.keys.map((k) => tags.get(k))
        const startedAt = r.tags.startedAt
        if (records.some((t) => !t || t.expiresAt <= now || t.stamp >= startedAt)) return 'refused'
        const keepUntil = now + r.tags.ttl
        for (const t of records) if (t) t.expiresAt = Math.max(t.expiresAt, keepUntil)
      }
      const freshUntil = now + r.ttl
      store.set(key, {
        gen: r.gen,
        lockToken: '',
        lockUntil: 0,
        createdAt: now,
        freshUntil,
        staleUntil: freshUntil + r.staleWhileRevalidate,
        errorUntil: freshUntil + r.staleIfError,
        body: r.body,
        expiresAt: now + Math.max(1, r.expireIn),
      })
      return 'written'
    },

    async extend(key: string, token: string, ttl: number): Promise<boolean> {
      const now = tick()
      const s = live(key, now)
      if (!s || s.lockToken !== token) return false
      store.set(key, { ...s, lockUntil: now + ttl })
      return true
    },

    async release(key: string, token: string): Promise<void> {
      const s = live(key, clock.now())
      if (s && s.lockToken === token) store.set(key, { ...s, lockToken: '', lockUntil: 0 })
    },

    async invalidate(keys: readonly string[], gen: string, ttl: number): Promise<void> {
      const now = clock.now()
      for (const key of keys) store.set(key, marker(gen, now + ttl))
    },

    // One synchronous pass in process memory: there is no round trip to bound step by step.
    async invalidateMatching(pattern: string, gen: string, ttl: number): Promise<number> {
      const now = clock.now()
      let count = 0
      // Collect first: replacing values while iterating would reorder the LRU under the iterator.
      const matched: string[] = []
      for (const key of store.keys()) if (globMatch(pattern, key)) matched.push(key)
      for (const key of matched) {
        const s = live(key, now)
        if (!s) continue
        if (s.body !== '') count++
        store.set(key, marker(gen, now + ttl))
      }
      return count
    },

    async readTags(keys: readonly string[], ttl: number): Promise<TagReply> {
      const now = tick()
      return { now, stamps: keys.map((key) => tagStamp(key, now, ttl)) }
    },

    async invalidateTags(keys: readonly string[], ttl: number): Promise<void> {
      const now = tick()
      for (const key of keys) tags.set(key, { stamp: now, expiresAt: now + ttl })
    },

    async ping(): Promise<void> {},
  }
}

function marker(gen: string, expiresAt: number): Stored {
  return { ...markerSlot(gen), expiresAt }
}
