/**
 * Typed events, and the one place that builds their payloads. Payloads carry keys, never values,
 * and errors only in their redacted, typed form.
 * @module
 */
import { CacheBackendError, CacheTimeoutError, type CachewardError, isCachewardError } from './errors.js'

/** Where a call happened: what every per-call event payload carries. */
export interface EventSite {
  /** The logical key, without the namespace. */
  key: string
  /** The namespace path of the client that made the call (`'app:rooms'`), or `undefined`. */
  namespace: string | undefined
  /** The call's `category` option, or `undefined`. */
  category: string | undefined
}

/** Every event and its payload. Payloads carry keys, never cached values, URLs or tokens. */
export interface CacheEventMap {
  /** A fresh entry answered a `get`/`getOrSet` call. */
  hit: EventSite & {
    /** Milliseconds from the call to its answer (monotonic timer). */
    durationMs: number
    /** Which tier answered: `l1` the in-process tier (no backend command), `l2` the backend. */
    tier: 'l1' | 'l2'
  }
  /** A stale entry answered (stale-while-revalidate, stale-if-error, soft timeout). */
  'stale-hit': EventSite & {
    /** Milliseconds from the call to its answer (monotonic timer). */
    durationMs: number
    /** Which tier answered: `l1` the in-process tier (no backend command), `l2` the backend. */
    tier: 'l1' | 'l2'
  }
  /** A call was answered by a load (its own, or one it joined), or got nothing (`get`). */
  miss: EventSite & {
    /** Milliseconds from the call to its answer (monotonic timer). */
    durationMs: number
  }
  /** A loader finished and its value was handed to callers. */
  load: EventSite & {
    /** How long the loader ran, on the client's `clock`. */
    durationMs: number
  }
  /** A loader threw or passed `hardTimeout`. */
  'load-error': EventSite & {
    /** How long the loader ran, on the client's `clock`. */
    durationMs: number
    /** The loader's own error, unchanged, or a `CacheLoadTimeoutError` / `CacheClosedError`. */
    error: unknown
  }
  /**
   * A background refresh (stale-while-revalidate, early refresh, soft timeout) loaded a new value;
   * it is stored unless the fence refused it (an invalidation during the load) or the loader skipped the cache.
   */
  refresh: EventSite & {
    /** What started the refresh. */
    reason: RefreshReason
  }
  /**
   * A value's stored form was larger than `maxValueBytes`: `getOrSet` returned it without storing it (the lock
   * released), `set()` rejected with `CacheValueTooLargeError`. Carries sizes, never the value.
   */
  oversized: EventSite & {
    /** Bytes the value would have taken in the backend (after compression, when on). */
    bytes: number
    /** The `maxValueBytes` in force. */
    limit: number
    /** The call that produced it. */
    operation: 'getOrSet' | 'set'
  }
  /** A `delete`, `invalidateTags`, `invalidatePattern` or `clear` call succeeded; narrow on `kind` for its fields. */
  invalidate: InvalidateEvent
  /** The circuit breaker opened: the backend is skipped for `retryInMs`. */
  'circuit-open': {
    /** The adapter's name, e.g. `'ioredis'`; never a URL. */
    adapter: string
    /** Consecutive failures that opened it. */
    failures: number
    /** Milliseconds until a probe may reach the backend. */
    retryInMs: number
  }
  /** The circuit breaker closed: a probe reached the backend. */
  'circuit-close': {
    /** The adapter's name. */
    adapter: string
  }
  /** The backend failed; the call was answered anyway where it could be. */
  error: {
    /** What failed: `read`, `write`, `release`, `extend`, `invalidate`, `invalidatePattern`, `readTags`, `invalidateTags`, `ping`, `decode` or `encode`. */
    operation: string
    /** The call's logical key, or `undefined` for operations not about one key. */
    key: string | undefined
    /** The namespace path of the client, or `undefined`. */
    namespace: string | undefined
    /** Typed and redacted: no password, token or cached value. */
    error: CachewardError
  }
}

/**
 * What the `invalidate` event carries: a union on `kind`, so narrowing on it makes that call's own fields certain.
 * Each member lists the others' fields as absent, so reading one before narrowing gives it or `undefined`.
 */
export type InvalidateEvent =
  | {
      /** A `delete` call. */
      kind: 'delete'
      /** The namespace path of the client that made the call, or `undefined`. */
      namespace: string | undefined
      /** The deleted key. */
      key: string
      /** Only `'tags'` events carry tags. */
      tags?: undefined
      /** Only `'pattern'` events carry a pattern. */
      pattern?: undefined
      /** Only `'pattern'` and `'clear'` events carry a count. */
      count?: undefined
    }
  | {
      /** An `invalidateTags` call. */
      kind: 'tags'
      /** The namespace path of the client that made the call, or `undefined`. */
      namespace: string | undefined
      /** Only `'delete'` events carry a key. */
      key?: undefined
      /** The invalidated tags. */
      tags: readonly string[]
      /** Only `'pattern'` events carry a pattern. */
      pattern?: undefined
      /** Only `'pattern'` and `'clear'` events carry a count. */
      count?: undefined
    }
  | {
      /** An `invalidatePattern` call. */
      kind: 'pattern'
      /** The namespace path of the client that made the call, or `undefined`. */
      namespace: string | undefined
      /** Only `'delete'` events carry a key. */
      key?: undefined
      /** Only `'tags'` events carry tags. */
      tags?: undefined
      /** The glob, relative to the namespace. */
      pattern: string
      /** Keys that held entries. */
      count: number
    }
  | {
      /** A `clear` call. */
      kind: 'clear'
      /** The namespace path of the client that made the call, or `undefined`. */
      namespace: string | undefined
      /** Only `'delete'` events carry a key. */
      key?: undefined
      /** Only `'tags'` events carry tags. */
      tags?: undefined
      /** Only `'pattern'` events carry a pattern. */
      pattern?: undefined
      /** Keys that held entries. */
      count: number
    }

/** Why a value was refreshed in the background. */
export type RefreshReason = 'stale-while-revalidate' | 'early-refresh' | 'soft-timeout'

/** Names of {@link CacheEventMap}. */
export type CacheEventName = keyof CacheEventMap
/** A listener of event `E`. */
export type CacheEventListener<E extends CacheEventName> = (payload: CacheEventMap[E]) => void

/** A minimal typed emitter; a listener that throws is reported asynchronously, never into the cache call. */
export class Emitter {
  readonly #listeners = new Map<CacheEventName, Set<(payload: never) => void>>()

  on<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): void {
    let set = this.#listeners.get(event)
    if (!set) {
      set = new Set()
      this.#listeners.set(event, set)
    }
    set.add(listener as (payload: never) => void)
  }

  off<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): void {
    this.#listeners.get(event)?.delete(listener as (payload: never) => void)
  }

  has(event: CacheEventName): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0
  }

  emit<E extends CacheEventName>(event: E, payload: CacheEventMap[E]): void {
    const set = this.#listeners.get(event)
    if (!set) return
    for (const listener of set) {
      try {
        ;(listener as CacheEventListener<E>)(payload)
      } catch (error) {
        // A broken listener is the app's bug: surface it like an EventEmitter would, but outside the cache call.
        queueMicrotask(() => {
          throw error
        })
      }
    }
  }
}

/** The typed, redacted error an `error` event and a rejected write carry for a backend failure. */
export function backendError(adapter: string, operation: string, cause: unknown): CachewardError {
  if (cause instanceof CacheTimeoutError || (isCachewardError(cause) && cause.code !== 'CACHEWARD_BACKEND'))
    return cause
  if (cause instanceof CacheBackendError) return cause
  return new CacheBackendError(adapter, operation, cause)
}
