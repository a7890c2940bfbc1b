/**
 * `cacheward/redlock`: an opt-in stampede lock over the `redlock` package, for apps that run several
 * independent Redis masters and want the lock to survive one of them failing (quorum, as in the
 * Redlock algorithm). The default lock, taken inside the entry's own key, is enough for a single
 * server, a cluster or Upstash; reach for this only when you need the quorum.
 *
 * It wraps an adapter: reads never take the in-key lock, a quorum lock on `<prefix><key>` is taken
 * instead, and released by the write or release that carries its token. Correctness never rests on
 * either lock: writes are still fenced on the generation read, and a key that is absent when its load
 * starts gets a marker first (fenced writes refuse absent keys), so `delete()`, tags, `clear()` and
 * `invalidatePattern()` keep their guarantees. A quorum that cannot be reached (too many masters down)
 * is a backend failure: the read rejects, and the client answers from the loader within its timeout.
 * @module
 */

import type { CacheAdapter, LockRequest, ReadReply, TagRead, WriteRequest, WriteResult } from './adapter.js'
import { markerSlot } from './slot.js'

/** A lock returned by redlock (v4: `unlock`; v5 betas: `release`). */
export interface RedlockLockLike {
  /** Releases the lock (redlock 4). */
  unlock?(): Promise<unknown>
  /** Releases the lock (redlock 5 betas). */
  release?(): Promise<unknown>
  /** Extends the lock to `ttl` milliseconds from now; resolves the extended lock. */
  extend(ttl: number): Promise<RedlockLockLike>
}

/** The part of a `Redlock` instance used (v4 `lock(resource, ttl)`; v5 betas `acquire([resource], ttl)`). */
export interface RedlockLike {
  /** Takes a quorum lock on `resource` for `ttl` milliseconds (redlock 4). */
  lock?(resource: string, ttl: number): Promise<RedlockLockLike>
  /** Takes a quorum lock on `resources` for `ttl` milliseconds (redlock 5 betas). */
  acquire?(resources: string[], ttl: number): Promise<RedlockLockLike>
  /**
   * The masters (redlock 4: `servers`, ioredis clients): when fewer than a quorum of them is connected,
   * a failed lock is a backend failure, not another holder.
   */
  readonly servers?: readonly RedlockMasterLike[]
  /** The masters (redlock 5 betas: `clients`), as {@link RedlockLike.servers}. */
  readonly clients?: Iterable<RedlockMasterLike>
}

/** A redlock master's client, as far as the wrapper looks at it. */
export interface RedlockMasterLike {
  /** ioredis connection state: `'ready'` when connected. */
  readonly status?: string
}

/** Options of {@link redlockAdapter}. */
export interface RedlockAdapterOptions {
  /**
   * Prefix of the lock resources on the redlock masters.
   * @default 'cacheward:lock:'
   */
  prefix?: string
}

/**
 * Wraps `adapter` so the stampede lock is a redlock quorum lock.
 * @example
 * import Redlock from 'redlock'
 * const redlock = new Redlock([redisA, redisB, redisC], { retryCount: 0 })
 * const cache = createCacheClient({ adapter: redlockAdapter(ioredisAdapter(redisA), redlock), namespace: 'app' })
 */
export function redlockAdapter(
  adapter: CacheAdapter,
  redlock: RedlockLike,
  options: RedlockAdapterOptions = {},
): CacheAdapter {
  const prefix = options.prefix ?? 'cacheward:lock:'
  const acquire = (resource: string, ttl: number): Promise<RedlockLockLike> => {
    // retryCount 0 is what a cache wants: another process holding the lock means "wait for its value".
    if (typeof redlock.acquire === 'function') return redlock.acquire([resource], ttl)
    if (typeof redlock.lock === 'function') return redlock.lock(resource, ttl)
    return Promise.reject(new TypeError('redlockAdapter: expected a Redlock instance with lock() or acquire()'))
  }
  // Connected masters, when the instance shows them (ioredis clients report `status`); else unknown.
  const masters = (): { ready: number; total: number } | undefined => {
    const list = redlock.servers ?? (redlock.clients ? [...redlock.clients] : undefined)
    if (!list || list.length === 0 || !list.every((m) => typeof m.status === 'string')) return undefined
    return { ready: list.filter((m) => m.status === 'ready').length, total: list.length }
  }
  // One load per key per process at a time (single-flight), so one held lock per key.
  const held = new Map<string, { token: string; lock: RedlockLockLike }>()
  // An expired or lost lock cannot be released; it ends by its own TTL.
  const release = async (lock: RedlockLockLike) => {
    await (lock.unlock ? lock.unlock() : lock.release?.())?.catch(() => {})
  }
  const unlock = async (key: string, token: string | undefined) => {
    const entry = held.get(key)
    // Only the holder's own write or release ends its lock: a set() of the same key carries no token.
    if (!entry || token === undefined || entry.token !== token) return
    held.delete(key)
    await release(entry.lock)
  }

  const wrapped: CacheAdapter = {
    name: `${adapter.name}+redlock`,

    // No readMany: each missing key takes its own quorum lock (one Redlock round per key), so batches over this
    // decorator fall back to one read per key, in parallel; the inner adapter's batched script would take the
    // in-key lock, which this decorator replaces.

    async read(key: string, lock?: LockRequest, tags?: TagRead): Promise<ReadReply> {
      let reply = await adapter.read(key, undefined, tags)
      if (!lock) return reply
      const fresh = (r: ReadReply) => !lock.force && r.slot && r.slot.body !== '' && r.now < r.slot.freshUntil
      if (fresh(reply)) return reply
      let taken: RedlockLockLike
      try {
        taken = await acquire(prefix + key, lock.ttl)
      } catch (error) {
        const known = masters()
        if (known && known.ready < Math.floor(known.total / 2) + 1) {
          throw new Error(
            `redlock: no quorum (${known.ready} of ${known.total} masters connected): ${error instanceof Error ? error.name : 'error'}`,
          )
        }
        // Another holder: wait for its value, then load (the client's lockWait).
        return { ...reply, lock: 'held' }
      }
      // The read and the lock are two steps here (one script in the inner adapter): another process may have written
      // the key and released its lock between them. Read again under the lock, so that value is served, neither
      // loaded a second time nor covered by the marker below.
      try {
        reply = await adapter.read(key, undefined, tags)
      } catch (error) {
        await release(taken)
        throw error
      }
      if (fresh(reply)) {
        await release(taken)
        return reply
      }
      const slot = reply.slot
      const previous = held.get(key)
      if (previous) await unlock(key, previous.token)
      held.set(key, { token: lock.token, lock: taken })
      if (reply.garbage || !slot) {
        // Foreign data, or nothing: leave a marker of our token before the load starts, so the fenced write
        // lands (an absent key refuses it) and an invalidation during the load finds a key to tombstone.
        await adapter.invalidate([key], lock.token, lock.keep)
        return { ...reply, slot: markerSlot(lock.token), garbage: false, lock: 'acquired' }
      }
      return { ...reply, lock: 'acquired' }
    },

    async write(key: string, request: WriteRequest): Promise<WriteResult> {
      try {
        return await adapter.write(key, request)
      } finally {
        await unlock(key, request.token)
      }
    },

    async extend(key: string, token: string, ttl: number): Promise<boolean> {
      const entry = held.get(key)
      if (!entry || entry.token !== token) return false
      entry.lock = await entry.lock.extend(ttl)
      return true
    },

    async release(key: string, token: string): Promise<void> {
      await unlock(key, token)
    },

    invalidate: (keys, gen, ttl) => adapter.invalidate(keys, gen, ttl),
    readTags: (keys, ttl) => adapter.readTags(keys, ttl),
    invalidateTags: (keys, ttl) => adapter.invalidateTags(keys, ttl),
    ping: () => adapter.ping(),
  }
  // Every optional capability of the wrapped adapter is passed on: the entries, the hit shortcuts, scans and
  // the write announcements (which wake waiters, whoever holds the lock) are the wrapped adapter's. `extend`
  // is this wrapper's own (the quorum lock's).
  // The wrapped adapter's announcements keep an l1 tier coherent (its scripts announce every change), and an
  // in-process store's synchronous reads answer fresh hits only, which take no lock: both are passed on too.
  const { peek, peekTagged, invalidateMatching, waitForWrite, dispose, clockOf, subscribe, freshSync, stampsSync } =
    adapter
  const { replicated } = adapter
  if (replicated) wrapped.replicated = (keys, replicas, timeout) => replicated.call(adapter, keys, replicas, timeout)
  if (subscribe) wrapped.subscribe = (listener) => subscribe.call(adapter, listener)
  if (freshSync) wrapped.freshSync = (key) => freshSync.call(adapter, key)
  if (stampsSync) wrapped.stampsSync = (keys) => stampsSync.call(adapter, keys)
  if (peek) wrapped.peek = (key) => peek.call(adapter, key)
  if (clockOf) wrapped.clockOf = (key) => clockOf.call(adapter, key)
  if (peekTagged) wrapped.peekTagged = (key, tagKeys) => peekTagged.call(adapter, key, tagKeys)
  if (invalidateMatching) {
    wrapped.invalidateMatching = (pattern, gen, ttl, step) => invalidateMatching.call(adapter, pattern, gen, ttl, step)
  }
  if (waitForWrite) wrapped.waitForWrite = (key, ms) => waitForWrite.call(adapter, key, ms)
  if (dispose) wrapped.dispose = () => dispose.call(adapter)
  return wrapped
}
