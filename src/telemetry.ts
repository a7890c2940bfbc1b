/**
 * The one place where what the cache did becomes counters, latency samples, events and log lines.
 * Every event payload is built here: keys, namespaces, categories and typed, redacted errors, never a
 * cached value, a URL or a token.
 * @module
 */
import type { CachewardError } from './errors.js'
import { type CacheEventMap, type CacheEventName, Emitter, type RefreshReason } from './events.js'
import { type CircuitState, type L1Snapshot, Metrics } from './metrics.js'

/**
 * Any pino-compatible logger (pino, or an object with the same four methods, e.g. a console wrapper).
 * cacheward logs backend failures and circuit changes at `warn`/`info`, loader failures, refreshes and
 * invalidations at `debug`; it never logs per hit or miss. Without one, it is silent.
 */
export interface Logger {
  /** Loader failures (by error type), background refreshes, invalidations. */
  debug(object: Record<string, unknown>, message: string): void
  /** The circuit breaker closing. */
  info(object: Record<string, unknown>, message: string): void
  /** Backend failures (typed, redacted) and the circuit breaker opening. */
  warn(object: Record<string, unknown>, message: string): void
  /** Not used by cacheward today; part of the pino shape. */
  error(object: Record<string, unknown>, message: string): void
}

/** Where a call happened: enough to label it, nothing more. */
interface Site {
  key: string
  namespace: string | undefined
  category: string | undefined
}

/** What an invalidation did, as the `invalidate` event reports it. */
export type Invalidation = CacheEventMap['invalidate']

/** Monotonic milliseconds for latency samples (present in Node, browsers, Deno, Bun and edge workers). */
const perf = globalThis.performance
export const now = (): number => perf.now()

export class Telemetry {
  readonly metrics: Metrics
  readonly events = new Emitter()
  readonly #logger: Logger | undefined

  constructor(options: {
    metrics: boolean
    namespace: string | undefined
    logger: Logger | undefined
    circuit: () => CircuitState
    l1: () => L1Snapshot | undefined
  }) {
    this.metrics = new Metrics({
      enabled: options.metrics,
      namespace: options.namespace,
      circuit: options.circuit,
      l1: options.l1,
    })
    this.#logger = options.logger
  }

  /**
   * A call was answered: exactly one of hit, stale hit or miss per `get`/`getOrSet` call. On every call's
   * path, so it takes its labels as arguments and allocates nothing unless a listener wants a payload.
   */
  served(
    key: string,
    namespace: string | undefined,
    category: string | undefined,
    kind: 'hit' | 'stale' | 'miss',
    startedAt: number,
    tier: 'l1' | 'l2' = 'l2',
    sync = false,
  ): void {
    const durationMs = now() - startedAt
    this.metrics.served(kind, durationMs, category, tier, sync)
    if (kind === 'miss') {
      if (this.events.has('miss')) this.events.emit('miss', { key, namespace, category, durationMs })
      return
    }
    const event: CacheEventName = kind === 'hit' ? 'hit' : 'stale-hit'
    if (this.events.has(event)) this.events.emit(event, { key, namespace, category, durationMs, tier })
  }

  /**
   * A fresh hit answered synchronously (the in-process tier, the memory store), its call's clock reading
   * (`startedAt`) already taken: a second is read only for a `hit` listener or a latency sample (see Metrics).
   */
  syncHit(
    key: string,
    namespace: string | undefined,
    category: string | undefined,
    startedAt: number,
    tier: 'l1' | 'l2',
  ): void {
    if (this.events.has('hit') || this.metrics.timesSyncHit(category)) {
      this.served(key, namespace, category, 'hit', startedAt, tier, true)
    } else this.metrics.served('hit', -1, category, tier, true)
  }

  /** A loader call begins. */
  loadStarted(site: Site): void {
    this.metrics.count('loads', site.category)
  }

  /** A loader returned; `durationMs` is on the client's clock, `elapsedMs` on the monotonic timer. */
  loaded(site: Site, durationMs: number, elapsedMs: number): void {
    this.metrics.observe('loads', elapsedMs, site.category)
    this.events.emit('load', { key: site.key, namespace: site.namespace, category: site.category, durationMs })
  }

  /** A loader threw or passed `hardTimeout` (`error` is the loader's own, or a CacheLoadTimeoutError). */
  loadFailed(site: Site, error: unknown, durationMs: number, timedOut: boolean): void {
    this.metrics.count('loadErrors', site.category)
    if (timedOut) this.metrics.count('loadTimeouts', site.category)
    this.events.emit('load-error', {
      key: site.key,
      namespace: site.namespace,
      category: site.category,
      durationMs,
      error,
    })
    this.#logger?.debug(
      { event: 'load-error', key: site.key, namespace: site.namespace, category: site.category, error: nameOf(error) },
      timedOut ? 'cacheward: loader timed out' : 'cacheward: loader failed',
    )
  }

  /** A loaded value failed the schema: a load error, not stored. */
  loadRejected(site: Site): void {
    this.metrics.count('loadErrors', site.category)
  }

  /** A background refresh stored a new value. */
  refreshed(site: Site, reason: RefreshReason): void {
    this.metrics.count('refreshes', site.category)
    this.events.emit('refresh', { key: site.key, namespace: site.namespace, category: site.category, reason })
    this.#logger?.debug(
      { event: 'refresh', key: site.key, namespace: site.namespace, category: site.category, reason },
      'cacheward: refreshed in the background',
    )
  }

  /** A call found another process loading its key and waited; `timedOut` when the wait ran out. */
  lockWaited(site: Site, timedOut: boolean): void {
    this.metrics.count('lockWaits', site.category)
    if (timedOut) this.metrics.count('lockTimeouts', site.category)
  }

  /** A value was too large to store (`operation` says whether `getOrSet` served it or `set` refused it). */
  oversized(site: Site, bytes: number, limit: number, operation: 'getOrSet' | 'set'): void {
    this.metrics.count('oversized', site.category)
    this.events.emit('oversized', {
      key: site.key,
      namespace: site.namespace,
      category: site.category,
      bytes,
      limit,
      operation,
    })
    this.#logger?.debug(
      {
        event: 'oversized',
        key: site.key,
        namespace: site.namespace,
        category: site.category,
        bytes,
        limit,
        operation,
      },
      'cacheward: value over maxValueBytes, not stored',
    )
  }

  /** The backend failed (`error` is already typed and redacted). */
  backendFailed(operation: string, key: string | undefined, namespace: string | undefined, error: CachewardError) {
    this.metrics.count('errors')
    this.events.emit('error', { operation, key, namespace, error })
    this.#logger?.warn(
      { event: 'error', operation, key, namespace, error: { code: error.code, message: error.message } },
      'cacheward: backend operation failed',
    )
  }

  invalidated(invalidation: Invalidation): void {
    this.metrics.count('invalidations')
    this.events.emit('invalidate', invalidation)
    this.#logger?.debug({ event: 'invalidate', ...invalidation }, 'cacheward: invalidated')
  }

  circuitOpened(adapter: string, failures: number, retryInMs: number): void {
    this.events.emit('circuit-open', { adapter, failures, retryInMs })
    this.#logger?.warn(
      { event: 'circuit-open', adapter, failures, retryInMs },
      'cacheward: circuit open, skipping the backend',
    )
  }

  circuitClosed(adapter: string): void {
    this.events.emit('circuit-close', { adapter })
    this.#logger?.info({ event: 'circuit-close', adapter }, 'cacheward: circuit closed, backend reachable again')
  }
}

/** A loader's error by its kind only: its message is the app's own and may carry anything. */
function nameOf(error: unknown): string {
  if (error instanceof Error) return error.name
  return typeof error
}
