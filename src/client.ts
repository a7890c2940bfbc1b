/**
 * `createCacheClient` and the `CacheClient` it returns. Composes the parts; owns no algorithm.
 * @module
 */
import type { CacheAdapter } from './adapters/adapter.js'
import { memoryAdapter } from './adapters/memory.js'
import { CircuitBreaker } from './circuit.js'
import { systemClock } from './clock.js'
import { type CacheDefinition, type CacheDefinitionOptions, defineEntry, type KeyArgs } from './define.js'
import { encodeEntry } from './entry.js'
import {
  CacheClosedError,
  CacheOptionsError,
  CacheTimeoutError,
  CacheUnsupportedError,
  CacheValueError,
} from './errors.js'
import type { CacheEventListener, CacheEventMap, CacheEventName } from './events.js'
import { SingleFlight } from './flight.js'
import { classify, entryWrite } from './freshness.js'
import {
  bounded,
  type Core,
  countServed,
  FENCE_WINDOW_MS,
  type Loader,
  loadOnly,
  type Outcome,
  randomToken,
  reportBackendError,
  resolveFlight,
  type Scope,
  TAG_TTL_MS,
  usableEntry,
} from './get-or-set.js'
import { assertKey, assertNamespace, assertPattern, escapeGlob, isTagList, prefixOf } from './keys.js'
import { createLifetime } from './lifetime.js'
import type { MetricsSnapshot } from './metrics.js'
import {
  type CacheClientOptions,
  type GetOptions,
  type GetOrSetOptions,
  type NamespaceOptions,
  resolveCallOptions,
  resolveClientOptions,
  resolveNamespacePolicy,
  type SetOptions,
} from './options.js'
import { requestBoundIo } from './runtime.js'
import { jsonSerializer } from './serializer.js'
import { now, Telemetry } from './telemetry.js'

/** What `health()` resolves. */
export interface HealthReport {
  /** The backend answered a ping within `timeout`. */
  ok: boolean
  /** Round-trip time of that ping (ms), or the time until it failed. */
  latencyMs: number
  /** Adapter name, e.g. `'ioredis'`. Never a URL. */
  adapter: string
  /** Redacted reason, when not ok. */
  error?: string
}

/** A cache in front of a slow source of truth. Create one with {@link createCacheClient}. */
export interface CacheClient {
  /**
   * Returns the cached value for `key`, or calls `loader` once (per process and across processes) and caches its result.
   * @typeParam S - The type of `ctx.stale`: what an explicit `getOrSet<Room>(…)` sets, or an annotated `ctx` says.
   * @typeParam T - The value's type, inferred from what the loader returns (it must fit `S`).
   */
  getOrSet<S = unknown, T extends S = S>(key: string, loader: Loader<T, S>, options?: GetOrSetOptions<T>): Promise<T>
  /** Returns the fresh cached value, or `undefined`. Never loads. */
  get<T = unknown>(key: string, options?: GetOptions<T>): Promise<T | undefined>
  /** Reads several keys (one read each, so it is safe on a cluster); `undefined` where there is none. */
  getMany<T = unknown>(keys: readonly string[], options?: GetOptions<T>): Promise<(T | undefined)[]>
  /** Stores a value unconditionally. Rejects with `CacheBackendError` when the backend fails. */
  set<T>(key: string, value: T, options?: SetOptions): Promise<void>
  /** Removes a key; a load that began before cannot write its value back. Rejects on backend failure. */
  delete(key: string): Promise<void>
  /** True when a fresh entry exists (or a stale one, with `allowStale`). */
  has(key: string, options?: Pick<GetOptions, 'allowStale'>): Promise<boolean>
  /**
   * After it resolves, no read returns an entry that carried one of `tags` and whose load began
   * before the call began. One write per tag, whatever the number of entries carrying it.
   */
  invalidateTags(tags: readonly string[]): Promise<void>
  /** Removes every key of this namespace whose logical key matches the Redis glob; resolves how many held entries. */
  invalidatePattern(pattern: string): Promise<number>
  /** Removes every key of this namespace (and its child namespaces). Refuses without a namespace. */
  clear(): Promise<number>
  /** A child client whose keys live under `<this prefix><name>:`, sharing backend and metrics. */
  namespace(name: string, options?: NamespaceOptions): CacheClient
  /**
   * A typed kind of entry: how it is keyed, loaded, tagged and invalidated, in one place.
   * @example
   * const rooms = cache.define({ key: (id: string) => `room:${id}`, load: ([id]) => db.rooms.find(id), tags: ['rooms'] })
   * await rooms.get('42'); await rooms.invalidate('42'); await rooms.invalidateAll()
   */
  define<A extends KeyArgs, S = unknown, T extends S = S>(
    options: CacheDefinitionOptions<A, T, S>,
  ): CacheDefinition<A, T>
  /** Counters so far, for the whole client (namespaces included). */
  metrics(): MetricsSnapshot
  /** Sets every counter back to zero. */
  resetMetrics(): void
  /** Calls `listener` on each `event` (see {@link CacheEventMap}); listeners run synchronously, keep them cheap. */
  on<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): void
  /** Removes a listener added with `on`. */
  off<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): void
  /** Pings the backend within `timeout`; never rejects. */
  health(): Promise<HealthReport>
  /** Stops background work; further calls reject. Never closes a client you passed to an adapter. */
  close(): Promise<void>
}

/**
 * Creates a cache client. Options are checked now: a bad one throws `CacheOptionsError` naming it.
 * @example
 * const cache = createCacheClient({ namespace: 'app', ttl: '5m' })
 * const rooms = await cache.getOrSet('rooms:all', () => db.rooms.findMany())
 */
export function createCacheClient(options: CacheClientOptions = {}): CacheClient {
  const o = resolveClientOptions(options)
  const adapter: CacheAdapter = o.adapter ?? memoryAdapter(o.clock ? { clock: o.clock } : {})
  const telemetry = new Telemetry({
    metrics: o.metrics,
    namespace: o.namespace,
    logger: o.logger,
    circuit: () => (core.circuit ? (core.circuit.isOpen ? 'open' : 'closed') : 'disabled'),
  })
  const core: Core = {
    adapter,
    serializer: o.serializer ?? jsonSerializer,
    clock: o.clock ?? systemClock,
    telemetry,
    flight: new SingleFlight<Outcome>({ queue: !requestBoundIo }),
    timeout: o.timeout,
    lockTtl: o.lockTtl,
    lockWait: o.lockWait,
    background: new Set(),
    lifetime: createLifetime(),
    circuit: undefined,
    waitUntil: o.waitUntil,
    backoff: new Map(),
    refreshing: new Set(),
    loads: new Set(),
    present: new Map(),
    clockOffset: undefined,
  }
  if (o.circuitBreaker) {
    const { threshold, duration } = o.circuitBreaker
    const name = adapter.name
    ;(core as { circuit: CircuitBreaker }).circuit = new CircuitBreaker(threshold, duration, core.clock, (change) => {
      if (change.state === 'open') telemetry.circuitOpened(name, change.failures, change.retryInMs)
      else telemetry.circuitClosed(name)
    })
  }
  const namespaces = o.namespace === undefined ? [] : [o.namespace]
  // Whatever the namespace holds, every tag record of this client starts with the same `{…` up to the
  // first `}`, so all of them hash to one cluster slot and one script reads several at once.
  // `{:tags}` for no namespace: a namespace is never empty, so it cannot collide with one.
  const tagPrefix = `{${o.namespace ?? ''}:tags}:`
  const scope: Scope = { prefix: prefixOf(namespaces), tagPrefix, namespace: o.namespace, policy: o.policy }
  return makeClient(core, scope, o.enabled)
}

function makeClient(core: Core, scope: Scope, enabled: boolean): CacheClient {
  const open = () => {
    if (core.lifetime.signal.aborted) throw new CacheClosedError()
  }
  const tombstone = (key: string) => {
    core.present.delete(scope.prefix + key)
    return bounded(core, 'invalidate', () =>
      core.adapter.invalidate([scope.prefix + key], randomToken(), FENCE_WINDOW_MS),
    ).catch((error) => {
      throw reportBackendError(core, scope, 'invalidate', key, error)
    })
  }

  const read = async <T>(key: string, options: GetOptions<T> | undefined, counted: boolean): Promise<T | undefined> => {
    open()
    assertKey(key)
    const startedAt = now()
    const call = resolveCallOptions('get', scope.policy, options)
    const c = { core, scope, key, full: scope.prefix + key, call }
    if (!enabled) {
      if (counted) countServed(c, 'miss', startedAt)
      return undefined
    }
    let value: T | undefined
    let kind: Outcome['kind'] = 'miss'
    try {
      const reply = await bounded(core, 'read', () => core.adapter.read(c.full))
      const entry = await usableEntry(c, reply.slot)
      if (entry === 'invalidated') {
        // A tag was invalidated after this entry's load began: a miss; the next load replaces it.
      } else if (reply.garbage || (reply.slot && reply.slot.body !== '' && !entry)) {
        // Foreign, corrupted or schema-failing data is a miss and is removed (best effort).
        if (reply.garbage)
          reportBackendError(core, scope, 'read', key, new Error('foreign data at key; treated as a miss'))
        tombstone(key).catch(() => {})
      } else if (entry && reply.slot) {
        const state = classify(reply.slot, reply.now)
        if (state === 'fresh') kind = 'hit'
        else if (call.allowStale && state !== 'expired') kind = 'stale'
        if (kind !== 'miss') value = entry.value as T
      }
    } catch (error) {
      reportBackendError(core, scope, 'read', key, error)
    }
    if (counted) countServed(c, kind, startedAt)
    return value
  }

  const client: CacheClient = {
    async getOrSet<S, T extends S>(key: string, loader: Loader<T, S>, options?: GetOrSetOptions<T>): Promise<T> {
      open()
      assertKey(key)
      if (typeof loader !== 'function') {
        throw new CacheOptionsError([{ path: 'loader', message: `expected a function, got ${typeof loader}` }])
      }
      const startedAt = now()
      const call = resolveCallOptions('getOrSet', scope.policy, options)
      const c = { core, scope, key, full: scope.prefix + key, call }
      if (call.signal?.aborted) throw call.signal.reason
      // Caching off: still single-flight, so a disabled cache never multiplies database load.
      const task = enabled
        ? () => resolveFlight(c, loader as Loader<unknown>)
        : () => loadOnly(c, loader as Loader<unknown>)
      const { promise, joined } = core.flight.run(
        c.full,
        task,
        enabled && call.policy.ttl > 0 ? 'this-tick' : 'while-running',
      )
      let outcome: Outcome
      try {
        outcome = call.signal ? await abortable(promise, call.signal) : await promise
      } catch (error) {
        // Every call counts one of hit, stale hit or miss: a call that got no value was a miss.
        countServed(c, 'miss', startedAt)
        throw error
      }
      countServed(c, joined && outcome.kind === 'miss' ? 'miss' : outcome.kind, startedAt)
      return outcome.value as T
    },

    get: (key, options) => read(key, options, true),

    async getMany<T>(keys: readonly string[], options?: GetOptions<T>) {
      if (!Array.isArray(keys)) throw new CacheOptionsError([{ path: 'keys', message: 'expected an array of keys' }])
      for (const key of keys) assertKey(key)
      return Promise.all(keys.map((key) => read<T>(key, options, true)))
    },

    async has(key, options) {
      return (await read(key, options, false)) !== undefined
    },

    async set<T>(key: string, value: T, options?: SetOptions) {
      open()
      assertKey(key)
      const call = resolveCallOptions('set', scope.policy, options)
      if (value === undefined) throw new CacheValueError(key, 'undefined is never stored (use delete)')
      if (!enabled) return
      const full = scope.prefix + key
      if (call.policy.ttl === 0) return tombstone(key)
      const encode = (startedAt: number) => {
        try {
          return encodeEntry({ value, tags: call.tags, loadMs: 0, startedAt }, core.serializer)
        } catch (error) {
          throw new CacheValueError(key, error instanceof Error ? error.message : String(error))
        }
      }
      // Encode first: a value that cannot be cached is rejected before any backend call.
      let body = encode(0)
      const { ttl, staleWhileRevalidate, staleIfError } = call.policy
      if (call.tags.length > 0) {
        // Tag records must exist before the entry is written, or the first read would not trust it; the
        // entry counts from this read's time, after the records' creation stamp.
        const keys = call.tags.map((tag) => scope.tagPrefix + tag)
        const reply = await bounded(core, 'readTags', () => core.adapter.readTags(keys, TAG_TTL_MS)).catch((error) => {
          throw reportBackendError(core, scope, 'readTags', key, error)
        })
        body = encode(reply.now)
      }
      const request = entryWrite(null, randomToken(), ttl, staleWhileRevalidate, staleIfError, body)
      await bounded(core, 'write', () => core.adapter.write(full, request)).catch((error) => {
        throw reportBackendError(core, scope, 'write', key, error)
      })
    },

    async delete(key) {
      open()
      assertKey(key)
      if (!enabled) return
      await tombstone(key)
      core.telemetry.invalidated({ kind: 'delete', namespace: scope.namespace, key })
    },

    async invalidateTags(tags) {
      open()
      if (!isTagList(tags)) {
        throw new CacheOptionsError([
          { path: 'tags', message: 'expected an array of non-empty strings (at most 256 characters)' },
        ])
      }
      if (!enabled || tags.length === 0) return
      const keys = [...new Set(tags)].map((tag) => scope.tagPrefix + tag)
      await bounded(core, 'invalidateTags', () => core.adapter.invalidateTags(keys, TAG_TTL_MS)).catch((error) => {
        throw reportBackendError(core, scope, 'invalidateTags', undefined, error)
      })
      core.telemetry.invalidated({ kind: 'tags', namespace: scope.namespace, tags: [...tags] })
    },

    async invalidatePattern(pattern) {
      open()
      assertPattern(pattern)
      requireNamespace('invalidatePattern()')
      if (!enabled) return 0
      const count = await invalidateMatching(escapeGlob(scope.prefix) + pattern)
      core.telemetry.invalidated({ kind: 'pattern', namespace: scope.namespace, pattern, count })
      return count
    },

    async clear() {
      open()
      requireNamespace('clear()')
      if (!enabled) return 0
      const count = await invalidateMatching(`${escapeGlob(scope.prefix)}*`)
      core.telemetry.invalidated({ kind: 'clear', namespace: scope.namespace, count })
      return count
    },

    namespace(name, options) {
      assertNamespace(name)
      const policy = resolveNamespacePolicy(scope.policy, options)
      const path = scope.namespace === undefined ? name : `${scope.namespace}:${name}`
      return makeClient(core, { ...scope, prefix: `${scope.prefix}${name}:`, namespace: path, policy }, enabled)
    },

    define: (options) => defineEntry(client, options),
    metrics: () => core.telemetry.metrics.snapshot(),
    resetMetrics: () => core.telemetry.metrics.reset(),
    on: (event, listener) => core.telemetry.events.on(event, listener),
    off: (event, listener) => core.telemetry.events.off(event, listener),

    async health() {
      // Straight to the backend, past the circuit breaker: health reports what the backend does now.
      const started = performance.now()
      let timer: ReturnType<typeof setTimeout> | undefined
      try {
        await Promise.race([
          core.adapter.ping(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new CacheTimeoutError(`${core.adapter.name} ping`, core.timeout)),
              core.timeout,
            )
          }),
        ])
        return { ok: true, latencyMs: performance.now() - started, adapter: core.adapter.name }
      } catch (error) {
        const safe = reportBackendError(core, scope, 'ping', undefined, error)
        return { ok: false, latencyMs: performance.now() - started, adapter: core.adapter.name, error: safe.message }
      } finally {
        clearTimeout(timer)
      }
    },

    async close() {
      if (core.lifetime.signal.aborted) return
      const reason = new CacheClosedError()
      core.lifetime.abort(reason)
      for (const stop of core.loads) stop(reason)
      // Background refreshes and lock releases settle (each is bounded by `timeout`).
      await Promise.allSettled([...core.background])
      await core.adapter.dispose?.()
    },
  }

  /** Scans stay inside a namespace: without one they would reach every key of the database. */
  function requireNamespace(what: string) {
    if (scope.prefix === '') {
      throw new CacheOptionsError([
        { path: 'namespace', message: `${what} needs a namespace, so it never touches keys that are not the cache’s` },
      ])
    }
  }

  async function invalidateMatching(glob: string): Promise<number> {
    core.present.clear()
    const scan = core.adapter.invalidateMatching
    if (!scan) {
      throw new CacheUnsupportedError(
        `the ${core.adapter.name} adapter cannot scan keys, so it cannot clear or invalidate by pattern`,
      )
    }
    // Scans are not bounded by `timeout`: a large namespace legitimately takes longer than one operation.
    try {
      return await scan.call(core.adapter, glob, randomToken(), FENCE_WINDOW_MS)
    } catch (error) {
      throw reportBackendError(core, scope, 'invalidatePattern', undefined, error)
    }
  }

  return client
}

/** Rejects this caller when its signal aborts; the shared flight carries on for the others. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}
