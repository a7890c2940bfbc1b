/**
 * Options: the interfaces users read (with their defaults), and what they resolve to. The checks that
 * hold values to them are in `option-checks.ts`; per-call resolution is in `call-options.ts`.
 * @module
 */
import type { CacheAdapter } from './adapters/adapter.js'
import type { Clock } from './clock.js'
import type { Duration } from './duration.js'
import type { Serializer } from './serializer.js'
import type { StandardSchemaV1 } from './standard-schema.js'
import type { Logger } from './telemetry.js'

/** Freshness and load options, accepted by the client, `namespace()` and each `getOrSet` call. */
export interface FreshnessOptions {
  /**
   * How long an entry is fresh. `0` stores nothing (a pass-through that still single-flights).
   * A number is milliseconds: `ttl: 300` is 300 ms, not 5 minutes (write `'5m'` or `300_000`).
   * @default '5m'
   * @example { ttl: '30s' }
   */
  ttl?: Duration
  /**
   * After `ttl`: how long a stale entry is served at once while one background refresh runs.
   * @default 0 (off)
   * @example { staleWhileRevalidate: '10m' }
   */
  staleWhileRevalidate?: Duration
  /**
   * After `ttl`: how long a stale entry is served when the loader fails (throws, rejects, or passes
   * `hardTimeout`).
   * @default 0 (off)
   * @example { staleIfError: '1h' }
   */
  staleIfError?: Duration
  /**
   * When a stale value exists and the load has not finished after this long, callers get the stale
   * value; the load goes on in the background and stores its result.
   * @default 0 (off)
   * @example { softTimeout: '200ms', staleIfError: '1h' }
   */
  softTimeout?: Duration
  /**
   * After this long the load is aborted through `ctx.signal` and fails with `CacheLoadTimeoutError`
   * (answered with a stale value inside `staleIfError`).
   * @default 0 (off)
   * @example { hardTimeout: '5s' }
   */
  hardTimeout?: Duration
  /**
   * After a failed load was answered with a stale value, how long that value keeps being served
   * without calling the loader again (per process), so a failing database is not hit by every request.
   * @default '5s'
   */
  errorBackoff?: Duration
  /**
   * Probabilistic early refresh (XFetch, Vattani et al., VLDB 2015): a fresh hit near expiry may start
   * one background refresh, more likely the longer the last load took. `true` is beta 1; larger refreshes earlier.
   * @default false
   * @example { earlyRefresh: true }
   */
  earlyRefresh?: boolean | number
  /**
   * Shortens each entry's `ttl` by a random fraction up to this (0 to 1), so entries written together
   * do not all expire together. Never lengthens it.
   * @default 0
   * @example { jitter: 0.1 }
   */
  jitter?: number
}

/** The in-process tier's bounds (`l1`): `true` takes the defaults. */
export interface L1Options {
  /**
   * Most entries kept in this process; the least recently used go first.
   * @default 10000
   */
  maxEntries?: number
  /**
   * Most bytes kept (each entry counted at its stored size), on top of `maxEntries`. Unset: no byte bound.
   * @example { maxBytes: 64 * 1024 * 1024 }
   */
  maxBytes?: number
  /**
   * Longest an entry stays in the tier, whatever its own freshness. Over an adapter that cannot subscribe to
   * the backend's change announcements (Upstash on an edge runtime) it is required: it is then the only bound
   * on how long another process's change takes to reach this one.
   * @default as long as the entry itself is servable
   * @example { ttl: '10s' }
   */
  ttl?: Duration
}

/** Gzip for large bodies (`compress`): `true` takes the defaults. */
export interface CompressOptions {
  /**
   * Bodies of at least this many bytes (as the serializer wrote them) are gzipped, and stored so only when that
   * makes them smaller. Each gzip or gunzip costs about 0.6 ms whatever the size, so small bodies are left alone.
   * @default 65536
   * @example { threshold: 64 * 1024 }
   */
  threshold?: number
}

/** How many replicas must hold a change before the call that made it resolves (`waitForReplicas`). */
export interface WaitForReplicasOptions {
  /** Replicas of each master the change reached that must acknowledge it (Redis `WAIT`). */
  replicas: number
  /**
   * Longest wait for them; fewer acknowledgements by then reject the call (the change stays on the master).
   * @default '250ms'
   */
  timeout?: Duration
}

/** Options of `createCacheClient`. */
export interface CacheClientOptions extends FreshnessOptions {
  /**
   * Largest value stored, in bytes of its stored form (the serializer's output, UTF-8, after compression when
   * `compress` is on). A larger value is returned by `getOrSet` but not stored (counted as `oversized`, emitted as
   * an `oversized` event); `set()` of one rejects with `CacheValueTooLargeError`. `Infinity` removes the bound.
   * @default 1048576 (1 MiB)
   * @example { maxValueBytes: 256 * 1024 }
   */
  maxValueBytes?: number
  /**
   * Gzip bodies of at least `threshold` bytes (with `CompressionStream`, in every runtime) when that makes them
   * smaller. Compressed entries are marked, so every client reads them, with `compress` or without.
   * @default off
   * @example { compress: true }
   * @example { compress: { threshold: 64 * 1024 } }
   */
  compress?: boolean | CompressOptions
  /**
   * An in-process tier in front of the backend: hits answered with no backend command, values deeply frozen,
   * kept coherent across processes by the backend's change announcements (see docs/16). Off unless set;
   * refused over the memory adapter (already in-process).
   * @default off
   * @example { l1: true }
   * @example { l1: { maxEntries: 50_000, ttl: '1m' } }
   */
  l1?: boolean | L1Options
  /**
   * Invalidations (`delete`, `deleteMany`, `invalidateTags`, `invalidatePattern`, `clear`) and `set`/`setMany`
   * resolve only once `replicas` replicas of every master they changed acknowledged the change (Redis `WAIT`), so
   * a failover cannot bring back what they removed. Fewer within `timeout`: the call rejects with a
   * `CacheBackendError` (operation `waitForReplicas`); the change stays on the master. Costs one more round trip
   * per call. Redis adapters only (ioredis, node-redis; standalone with replicas, or a cluster); see docs/09.
   * @default off
   * @example { waitForReplicas: { replicas: 1, timeout: '100ms' } }
   */
  waitForReplicas?: WaitForReplicasOptions
  /**
   * The backend.
   * @default memoryAdapter()
   * @example { adapter: ioredisAdapter(new Redis(process.env.REDIS_URL)) }
   */
  adapter?: CacheAdapter
  /**
   * Key prefix: the entry for key K lives at `namespace:K`. Without one, `clear()` refuses to run.
   * @example { namespace: 'app' }
   */
  namespace?: string
  /**
   * The most one backend operation may delay a caller. Reads that take longer are answered by the
   * loader (or a stale value); writes reject with `CacheTimeoutError`.
   * @default '1s'
   */
  timeout?: Duration
  /**
   * `false` turns caching off: every `getOrSet` calls its loader, `get` finds nothing, writes do nothing.
   * @default true
   * @example { enabled: process.env.NODE_ENV !== 'test' }
   */
  enabled?: boolean
  /**
   * How long a stampede lock lives if its holder never releases it (a crashed process).
   * @default '10s'
   */
  lockTtl?: Duration
  /**
   * How long a caller waits for another process's load of the same key before loading itself.
   * @default '5s'
   */
  lockWait?: Duration
  /**
   * The most keys one batch call (`getOrSetMany`, `setMany`, `deleteMany`, `getMany`) accepts; a longer list is
   * refused with `CacheKeyError` before any backend work. Bounds how long one script holds Redis and how much one
   * loader call is asked for.
   * @default 1000
   * @example { maxBatchKeys: 5_000 }
   */
  maxBatchKeys?: number
  /**
   * Receives every background task (stale-while-revalidate refreshes, early refreshes, soft-timeout
   * loads) so a serverless platform can keep the invocation alive until it settles.
   * @example { waitUntil: (promise) => ctx.waitUntil(promise) }
   */
  waitUntil?: (promise: Promise<unknown>) => void
  /**
   * After `threshold` consecutive backend failures, skip the backend for `duration` (reads go straight
   * to the loader, writes reject at once), then let one call probe it. `false` turns it off.
   * @default { threshold: 5, duration: '5s' }
   */
  circuitBreaker?:
    | false
    | {
        /** Consecutive backend failures that open the breaker. @default 5 */
        threshold?: number
        /** How long it stays open before one call probes the backend. @default '5s' */
        duration?: Duration
      }
  /**
   * `false` stops counting and latency sampling (`metrics()` then reports zeros); events still fire.
   * @default true
   */
  metrics?: boolean
  /**
   * A pino-compatible logger (`debug`, `info`, `warn`, `error`, each called as `(object, message)`).
   * Backend failures and circuit changes are logged at `warn`/`info`; loader failures, refreshes and
   * invalidations at `debug`; never a hit or miss, a cached value, a URL or a token.
   * @default silent
   * @example { logger: pino({ level: 'info' }) }
   */
  logger?: Logger
  /**
   * How entry bodies become strings.
   * @default JSON, with prototype-pollution keys removed on decode
   */
  serializer?: Serializer
  /**
   * Clock for durations the client measures (load times). Entry freshness uses the backend's clock.
   * @default Date.now
   */
  clock?: Clock
}

/** Options of `namespace(name, options)`: defaults for everything under that prefix. */
export interface NamespaceOptions extends FreshnessOptions {
  /**
   * The in-process tier for this namespace: `false` bypasses it, `{ ttl }` caps how long its entries stay in it.
   * The client must have `l1` on for `true` or `{ ttl }`.
   * @default the client's
   * @example { l1: false }
   */
  l1?: boolean | Pick<L1Options, 'ttl'>
  /**
   * As the client's `maxValueBytes`, for everything under this prefix.
   * @default the client's
   * @example { maxValueBytes: 5 * 1024 * 1024 }
   */
  maxValueBytes?: number
}

/** Options of one `getOrSet` call. */
export interface GetOrSetOptions<T = unknown> extends FreshnessOptions {
  /**
   * Tags the entry carries.
   * @example { tags: ['rooms', `room:${id}`] }
   */
  tags?: readonly string[]
  /**
   * Standard Schema (zod 4, valibot, arktype…) the value must satisfy. A cached value that fails it
   * is a miss and is deleted; a loaded value that fails it rejects with `CacheSchemaError`.
   */
  schema?: StandardSchemaV1<unknown, T>
  /**
   * Bounded label for metrics (`'rooms'`, `'search'`); never the raw key.
   * @example { category: 'rooms' }
   */
  category?: string
  /** Aborts this caller's wait (not a load other callers share). */
  signal?: AbortSignal
}

/** Options of `get` and `has`. */
export interface GetOptions<T = unknown> {
  /**
   * Also return entries past `ttl` that are still inside `staleWhileRevalidate` or `staleIfError`.
   * @default false
   */
  allowStale?: boolean
  /** As in {@link GetOrSetOptions.schema}. */
  schema?: StandardSchemaV1<unknown, T>
  /** As in {@link GetOrSetOptions.category}. */
  category?: string
}

/** Options of `set`. */
export interface SetOptions extends Pick<FreshnessOptions, 'ttl' | 'staleWhileRevalidate' | 'staleIfError'> {
  /** Tags the entry carries. */
  tags?: readonly string[]
}

/** Freshness and load options in milliseconds, fully defaulted. */
export interface Policy {
  readonly ttl: number
  readonly staleWhileRevalidate: number
  readonly staleIfError: number
  readonly softTimeout: number
  readonly hardTimeout: number
  readonly errorBackoff: number
  /** XFetch beta; 0 is off. */
  readonly earlyRefresh: number
  readonly jitter: number
}

/** What `createCacheClient` keeps after validation. */
export interface ResolvedClientOptions {
  readonly adapter: CacheAdapter | undefined
  readonly namespace: string | undefined
  readonly policy: Policy
  readonly timeout: number
  readonly enabled: boolean
  readonly lockTtl: number
  readonly lockWait: number
  readonly maxBatchKeys: number
  readonly serializer: Serializer | undefined
  readonly clock: Clock | undefined
  readonly waitUntil: ((promise: Promise<unknown>) => void) | undefined
  readonly circuitBreaker: { readonly threshold: number; readonly duration: number } | undefined
  readonly metrics: boolean
  readonly logger: Logger | undefined
  /** The in-process tier, resolved; undefined when off. */
  readonly l1: ResolvedL1 | undefined
  readonly maxValueBytes: number
  /** `compress`, resolved; undefined when off. */
  readonly compress: { readonly threshold: number } | undefined
  /** `waitForReplicas`, resolved; undefined when off. */
  readonly waitForReplicas: { readonly replicas: number; readonly timeout: number } | undefined
}

/** `l1`, resolved. */
export interface ResolvedL1 {
  readonly maxEntries: number
  readonly maxBytes: number | undefined
  readonly ttl: number | undefined
}

export const DEFAULTS = Object.freeze({
  ttl: 5 * 60_000,
  staleWhileRevalidate: 0,
  staleIfError: 0,
  softTimeout: 0,
  hardTimeout: 0,
  errorBackoff: 5_000,
  earlyRefresh: 0,
  jitter: 0,
  timeout: 1_000,
  circuitThreshold: 5,
  circuitDuration: 5_000,
  lockTtl: 10_000,
  lockWait: 5_000,
  maxValueBytes: 1_048_576,
  maxBatchKeys: 1_000,
})

/** What a call's options resolve to. */
export interface ResolvedCall {
  readonly policy: Policy
  readonly tags: readonly string[]
  readonly schema: StandardSchemaV1 | undefined
  readonly category: string | undefined
  readonly signal: AbortSignal | undefined
  readonly allowStale: boolean
}

/** The methods whose options a call resolves. */
export type CallKind = 'getOrSet' | 'getOrSetMany' | 'get' | 'set'
