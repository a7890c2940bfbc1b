/**
 * Typed events, and the one place that builds their payloads. Payloads carry keys, never values,
 * and errors only in their redacted, typed form.
 * @module
 */
import { CacheBackendError, CacheTimeoutError, type CachewardError, isCachewardError } from './errors.js'

/** Every event and its payload. `key` is the logical key (without namespace). */
export interface CacheEventMap {
  /** A fresh entry answered a `get`/`getOrSet` call; `durationMs` from the call to its answer. */
  hit: { key: string; namespace: string | undefined; category: string | undefined; durationMs: number }
  /** A stale entry answered (stale-while-revalidate, stale-if-error, soft timeout). */
  'stale-hit': { key: string; namespace: string | undefined; category: string | undefined; durationMs: number }
  /** A call was answered by a load (its own, or one it joined), or got nothing (`get`). */
  miss: { key: string; namespace: string | undefined; category: string | undefined; durationMs: number }
  /** A loader finished and its value was handed to callers; `durationMs` on the client's clock. */
  load: { key: string; namespace: string | undefined; category: string | undefined; durationMs: number }
  /** A loader threw or passed `hardTimeout` (the error is the loader's own, unchanged, or a CacheLoadTimeoutError). */
  'load-error': {
    key: string
    namespace: string | undefined
    category: string | undefined
    durationMs: number
    error: unknown
  }
  /**
   * A background refresh (stale-while-revalidate, early refresh, soft timeout) loaded a new value;
   * it is stored unless the fence refused it (an invalidation during the load) or the loader skipped the cache.
   */
  refresh: { key: string; namespace: string | undefined; category: string | undefined; reason: RefreshReason }
  /** A `delete`, `invalidateTags`, `invalidatePattern` or `clear` call succeeded. */
  invalidate:
    | { kind: 'delete'; namespace: string | undefined; key: string }
    | { kind: 'tags'; namespace: string | undefined; tags: readonly string[] }
    | { kind: 'pattern'; namespace: string | undefined; pattern: string; count: number }
    | { kind: 'clear'; namespace: string | undefined; count: number }
  /** The circuit breaker opened: the backend is skipped for `retryInMs`. */
  'circuit-open': { adapter: string; failures: number; retryInMs: number }
  /** The circuit breaker closed: a probe reached the backend. */
  'circuit-close': { adapter: string }
  /** The backend failed; the call was answered anyway where it could be. */
  error: { operation: string; key: string | undefined; namespace: string | undefined; error: CachewardError }
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
