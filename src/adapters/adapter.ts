/**
 * The port every backend implements. Types only.
 *
 * An adapter stores, at each full key, one *slot*: an entry (serialised body plus its freshness
 * times), or a marker with no entry (a tombstone left by an invalidation, or a lock taken on an
 * absent key). Every slot carries a *generation*: a random token that changes whenever the slot is
 * replaced. Writes from `getOrSet` are fenced on the generation read before the load, which is how
 * a load that began before `delete()` / `clear()` cannot write its stale value back.
 *
 * All times are in the backend's clock (Redis `TIME`; the memory adapter's clock), reported as
 * `now` with every read, so app servers with skewed clocks agree on freshness.
 * @module
 */

/** A slot as read from the backend. */
export interface Slot {
  /** Random token that changes on every replacement of the slot. */
  gen: string
  /** Token of the lock holder, `''` when unlocked. */
  lockToken: string
  /** Backend time the lock expires at (ms). */
  lockUntil: number
  /** Backend time the entry was written (ms, microsecond decimals); 0 for markers. */
  createdAt: number
  /** Fresh until this backend time (ms); 0 for markers. */
  freshUntil: number
  /** Servable while revalidating until this time (`freshUntil + staleWhileRevalidate`). */
  staleUntil: number
  /** Servable when the loader fails until this time (`freshUntil + staleIfError`). */
  errorUntil: number
  /** The serialised entry body; `''` for a marker (no entry). */
  body: string
}

/** What the caller asked for when reading. */
export interface LockRequest {
  /** Unguessable token (≥ 128 random bits) identifying this holder. */
  token: string
  /** How long the lock lives if never released (ms). */
  ttl: number
  /**
   * Take the lock even when the slot looks fresh: the caller found it invalidated by a tag, which
   * the backend cannot see.
   */
  force?: boolean
  /**
   * Taking the lock keeps the key for at least this long (ms), marker or entry, so an invalidation
   * that scans for keys during the load finds it and the fence refuses the load's write.
   */
  keep: number
}

/** The answer to {@link CacheAdapter.peekMany}. */
export interface PeekManyReply {
  /** Each key's slot in the order asked: `null` for an absent key, `'garbage'` for foreign data. */
  slots: (Slot | null | 'garbage')[]
  /** Each tag record's stamp in the order asked, `null` where the record is missing (never created here). */
  stamps: (number | null)[]
}

/** What a batched read asks of the locks: one token per key (in the order of the keys), one lifetime for all. */
export interface LockRequests {
  /** One unguessable token per key, in the order of the keys. */
  tokens: readonly string[]
  /** As {@link LockRequest.ttl}. */
  ttl: number
  /** As {@link LockRequest.keep}. */
  keep: number
}

/**
 * The answer to {@link CacheAdapter.readTags}. A record the read creates lives only the `ttl` asked
 * (the fence window), so reads of ids that hold nothing never grow the keyspace for long; the write of
 * an entry that carries the tag keeps the record longer ({@link TagWrite}).
 */
export interface TagReply {
  /** Backend time of the read (ms, microsecond decimals). */
  now: number
  /**
   * Backend time each tag was last invalidated (ms, microsecond decimals), in the order asked. A tag
   * without a record (never used, evicted, flushed, expired) gets one stamped a microsecond before
   * `now`, never earlier: entries whose load began before that are not trusted, so losing a record
   * can never revive an invalidated entry.
   */
  stamps: number[]
}

/** The answer to {@link CacheAdapter.read}. */
export interface ReadReply {
  /** Backend time of the read (ms, with microsecond decimals where the backend has them). */
  now: number
  /** The slot, or `null` when the key is absent. */
  slot: Slot | null
  /** The key held something that is not a cacheward slot (foreign or corrupted data). */
  garbage: boolean
  /**
   * Only when a lock was requested: `acquired` (this caller now holds it; the slot is not fresh),
   * `held` (another holder's lock is live), `none` (the slot is fresh, no lock needed).
   */
  lock: 'acquired' | 'held' | 'none'
  /** Stamps of the tag records asked for with the read, in order (see {@link TagReply}). */
  tagStamps?: number[]
  /**
   * Backend time at which those tag records were read, on the clock that stamps their invalidations
   * (the same as `now` unless the records live on another cluster node).
   */
  tagNow?: number
}

/**
 * Tag records to read beside an entry.
 * @inline
 */
export interface TagRead {
  keys: readonly string[]
  /** Life of a record created because it was missing (ms). */
  ttl: number
}

/**
 * What a fenced write checks: the generation a read found, and when (on the backend clock). A write
 * lands only while the key still holds that generation and less than `window` has passed since the
 * read: a key that is now absent (evicted, flushed, failed over) refuses it, and so does a key whose
 * tombstone could have expired in the meantime.
 */
export interface Fence {
  /** Generation read before the load. */
  gen: string
  /** Backend time of that read (ms). */
  readAt: number
  /** The write is refused once the backend time reaches `readAt + window` (ms). */
  window: number
}

/**
 * Tag records an entry carries, checked and kept by the write itself: each must exist with a stamp
 * before `startedAt` (else the write is refused: the tag was invalidated during the load, or its record
 * was lost), and each is then kept at least `ttl` ms, as long as any entry that carries it may live.
 */
export interface TagWrite {
  /** Full keys of the tag records. */
  keys: readonly string[]
  /** Backend time the entry's load began (ms, microsecond decimals), as compared with tag stamps. */
  startedAt: number
  /** How long the records are kept once an entry carrying them is written (ms). */
  ttl: number
}

/** A write of one entry. */
export interface WriteRequest {
  /** `getOrSet`'s writes are fenced on the read that began the load; `null` writes unconditionally (`set()`). */
  fence: Fence | null
  /**
   * Backend time (ms) after which the write must not land: its caller has been told it failed by then.
   * A client that sent it may still deliver it later (a replayed offline queue, a stalled link).
   */
  deadline?: number
  /** Lock token of the writer, when it holds the key's lock: the write releases that lock. */
  token?: string
  /** Tag records the entry carries (see {@link TagWrite}); absent for an untagged entry. */
  tags?: TagWrite
  /** Generation of the new slot. */
  gen: string
  /** Fresh period (ms). */
  ttl: number
  /** Stale-while-revalidate window after `ttl` (ms). */
  staleWhileRevalidate: number
  /** Stale-if-error window after `ttl` (ms). */
  staleIfError: number
  /** Backend expiry of the key (ms): `ttl + max(swr, sie)`, possibly shortened by jitter. */
  expireIn: number
  /** Serialised entry body (never empty). */
  body: string
}

/**
 * How a write ended: `written`; `refused` by its fence or its tags (the value is not stored, which is
 * what the fence is for); `late`, past its deadline (not stored; its caller had given up on it).
 */
export type WriteResult = 'written' | 'refused' | 'late'

/**
 * Runs one backend round trip of a longer operation (a page of a scan, a batch of tombstones). The
 * client bounds each step with its `timeout` and its circuit breaker, so a long walk over a large
 * namespace still finishes while a hung backend fails it within one timeout.
 */
export type Step = <T>(work: () => Promise<T>) => Promise<T>

/**
 * A change the backend announced, in the same atomic step as the change: entries written or
 * tombstoned (`keys`), tag records stamped (`tags`), or a lock released (`release`: nothing changed). A pattern
 * invalidation (`pattern`) is announced once its walk is done, also naming the keys it did not find: a key the
 * backend lost (evicted, flushed) may still be held by a process's tier.
 */
export interface Announcement {
  /** What changed: entries (`keys`), tag records (`tags`), every key a glob matches (`pattern`), or nothing but a lock (`release`). */
  kind: 'keys' | 'tags' | 'release' | 'pattern'
  /** Full keys: entry keys, or tag record keys for `tags`; for `pattern`, the one glob over full keys. */
  keys: string[]
  /** For `keys`: the generation the change wrote (a write's `gen`, a tombstone's), so its writer can tell it is its own. */
  gen?: string
}

/** What {@link CacheAdapter.freshSync} returns: a fresh slot and the store's time it was judged at. */
export interface FreshSlot {
  /** The store's time (ms). */
  now: number
  /** The stored slot (not a copy: read it, never change it). */
  slot: Slot
}

/** What {@link CacheAdapter.subscribe} reports to. */
export interface AnnouncementListener {
  /** An announcement was received. Called synchronously, in the order the backend published them. */
  message(announcement: Announcement): void
  /**
   * `true` once the subscription is confirmed (from then on every announcement arrives); `false` as soon as
   * it may have missed one (its connection closed or is being re-established), until confirmed again.
   */
  live(up: boolean): void
}

/**
 * A cacheward backend. Implement it to plug in another store; run the contract suite against it.
 * Every method may reject; the client bounds each call with its `timeout` option.
 */
export interface CacheAdapter {
  /** Short name used in errors, events and `health()`, e.g. `'ioredis'`. Never a URL. */
  readonly name: string
  /**
   * Reads the slot at `key`. With `lock`, atomically takes the stampede lock when the slot is not
   * fresh (absent, marker, stale or expired) and no live lock is held by someone else; taking it on
   * an absent key creates a marker whose generation is the lock token. With `tags`, also reads those
   * tag records (as {@link readTags} does) and returns their stamps in `tagStamps`; where it can, in
   * the same atomic step and before taking the read's time.
   */
  read(key: string, lock?: LockRequest, tags?: TagRead): Promise<ReadReply>
  /**
   * Reads many slots at once, as {@link read} does for each (with `locks`, taking each key's lock with its own
   * token, in the order of `keys`; with `tags`, reading those records once, their stamps in every reply), in as
   * few round trips as the backend allows: one script on a standalone server, one per node or slot on a cluster.
   * Replies come in the order of `keys`. Optional: without it the client sends one `read` per key, in parallel.
   * The client never passes more than 4,000 keys in one call (a longer batch is split): a Redis script answers
   * through Lua's `unpack`, which gives up near 8,000 values.
   */
  readMany?(keys: readonly string[], locks?: LockRequests, tags?: TagRead): Promise<ReadReply[]>
  /**
   * Reads the slot at `key` with the cheapest command the backend has (Redis: a plain GET), without
   * the backend's time or a lock: `'garbage'` for foreign data. Optional: the client uses it for keys
   * it recently found fresh, judging freshness against the backend clock it learned from `read`.
   */
  peek?(key: string): Promise<Slot | null | 'garbage'>
  /**
   * `peek` plus tag records, in one step: their stamps in order, `null` where a record is missing (never
   * created here). Optional; without it tagged calls always take `read`.
   */
  peekTagged?(
    key: string,
    tagKeys: readonly string[],
  ): Promise<{
    /** The slot, `null` for an absent key, `'garbage'` for foreign data (as {@link CacheAdapter.peek}). */
    slot: Slot | null | 'garbage'
    /** Each tag record's stamp in the order asked, `null` where the record is missing (never created here). */
    stamps: (number | null)[]
  }>
  /**
   * `peek` for many keys plus tag records, in one plain command where the backend allows it (Redis: one MGET): each
   * key's slot (`null` absent, `'garbage'` foreign data) in the order of `keys`, and each tag record's stamp (`null`
   * where a record is missing, never created here). Optional: batches of keys recently found fresh use it instead of
   * the batched read script (a plain MGET costs the server a fraction of a script per key).
   */
  peekMany?(keys: readonly string[], tagKeys: readonly string[]): Promise<PeekManyReply>
  /**
   * Writes an entry, atomically checking its fence, deadline and tag records first (see
   * {@link WriteRequest}). Clears any lock on the key.
   */
  write(key: string, request: WriteRequest): Promise<WriteResult>
  /**
   * Pushes the lock's expiry to `ttl` ms from now if `token` still holds it; resolves whether it did.
   * Optional: without it a load longer than `lockTtl` lets another process start a duplicate load.
   */
  extend?(key: string, token: string, ttl: number): Promise<boolean>
  /**
   * Resolves when a write or lock release at `key` is announced, or after `ms` at the latest. Optional:
   * without it, a process waiting on another's lock polls (with jittered back-off) instead.
   */
  waitForWrite?(key: string, ms: number): Promise<void>
  /** Releases the lock at `key` if `token` still holds it (compare-and-delete); the slot stays. */
  release(key: string, token: string): Promise<void>
  /**
   * Replaces each key with a tombstone of generation `gen` that lives `ttl` ms. Where the backend
   * refuses the tombstone but can still delete (Redis out of memory), it deletes the key instead, since
   * fenced writes refuse absent keys, and still rejects.
   */
  invalidate(keys: readonly string[], gen: string, ttl: number): Promise<void>
  /**
   * Tombstones every key matching the Redis glob `pattern` (SCAN, never KEYS; every master of a
   * cluster) and resolves how many of them held an entry. Each round trip (a SCAN page, a batch) runs
   * through `step`, which bounds it. Optional: without it `clear()` and `invalidatePattern()` throw
   * `CacheUnsupportedError`.
   */
  invalidateMatching?(pattern: string, gen: string, ttl: number, step: Step): Promise<number>
  /**
   * Reads the invalidation stamps of tag records, creating missing ones (see {@link TagReply}).
   * All keys share one hash tag, so on a cluster they live in one slot.
   */
  readTags(keys: readonly string[], ttl: number): Promise<TagReply>
  /**
   * Stamps each tag record with the backend's current time, strictly above its previous stamp. An entry
   * whose load began at or before a stamp of one of its tags is invalid. Where the backend refuses the
   * stamp but can delete (out of memory), it deletes the record instead (a missing record is never
   * trusted) and still rejects.
   */
  invalidateTags(keys: readonly string[], ttl: number): Promise<void>
  /**
   * In-process stores only (the memory adapter): the entry at `key` if it is fresh now, synchronously, with the
   * store's time; `undefined` otherwise (absent, a marker, not fresh). The slot is the stored one, not a copy:
   * read it, never change it. A fresh hit then costs no promise chain, no timer and no flight.
   */
  freshSync?(key: string): FreshSlot | undefined
  /** In-process stores only: the stamps of existing tag records, synchronously; `undefined` where one is missing. */
  stampsSync?(keys: readonly string[]): (number | undefined)[]
  /**
   * Receives the backend's change announcements (see {@link Announcement}) until the returned function is
   * called. Optional: an in-process tier (`l1`) over an adapter without it needs an explicit `ttl`, the only
   * bound on how long another process's change takes to reach it.
   */
  subscribe?(listener: AnnouncementListener): () => void
  /**
   * Which server's clock stamps the replies about `key`: on a cluster, its slot's master (`host:port`). Optional:
   * without it the backend is one clock. With it the client learns one clock per server, since masters' clocks
   * may disagree by seconds, and judges each entry (freshness, a write's deadline) on the clock of the server
   * that holds it.
   */
  clockOf?(key: string): string
  /**
   * Waits until what this client wrote to the servers holding `keys` (`null`: every master) reached `replicas`
   * replicas of each, or `timeout` ms passed (Redis `WAIT`, on the connection that sent the writes); resolves the
   * fewest replicas any of those servers reached. Optional: without it the `waitForReplicas` option is refused.
   */
  replicated?(keys: readonly string[] | null, replicas: number, timeout: number): Promise<number>
  /** Round trip to the backend; rejects when it is unreachable. */
  ping(): Promise<void>
  /** Stops the adapter's own timers. Never closes a client the user passed in. */
  dispose?(): Promise<void>
}
