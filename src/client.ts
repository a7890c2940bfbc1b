/**
 * `createCacheClient` and the `CacheClient` it returns. Composes the parts; owns no algorithm.
 * @module
 */
import type { CacheAdapter } from './adapters/adapter.js'
import { memoryAdapter } from './adapters/memory.js'
import { Backend } from './backend.js'
import { resolveCallOptions } from './call-options.js'
import { CircuitBreaker } from './circuit.js'
import { systemClock } from './clock.js'
import { type Core, fullKey, type Loader, type Outcome, reportBackendError, type Scope } from './core.js'
import { type CacheDefinition, type CacheDefinitionOptions, defineEntry, type KeyArgs } from './define.js'
import { CacheClosedError, CacheOptionsError, CacheValueError } from './errors.js'
import type { CacheEventListener, CacheEventMap, CacheEventName } from './events.js'
import { SingleFlight } from './flight.js'
import { getOrSet } from './get-or-set.js'
import { clear, deleteKey, deleteKeys, invalidatePattern, invalidateTags, tombstone } from './invalidate.js'
import { assertKey, assertKeyList, assertNamespace, prefixOf } from './keys.js'
import { L1 } from './l1.js'
import { createLifetime } from './lifetime.js'
import type { LoadMany } from './load-many.js'
import { getOrSetMany } from './many.js'
import { CATEGORY_LABEL, type MetricsSnapshot } from './metrics.js'
import { resolveClientOptions, resolveNamespaceOptions } from './option-checks.js'
import type { CacheClientOptions, GetOptions, GetOrSetOptions, NamespaceOptions, SetOptions } from './options.js'
import { PresentKeys } from './present.js'
import { readOnly } from './read.js'
import { requestBoundIo } from './runtime.js'
import { jsonSerializer } from './serializer.js'
import { Telemetry } from './telemetry.js'
import { prepareGiven, stampGiven, storeGiven } from './write.js'

/** Most keys remembered as recently fresh (see {@link PresentKeys}). */
const MAX_PRESENT_KEYS = 10_000

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
  /**
   * `getOrSet` for many keys: one read per cluster slot group (one on standalone Redis and Upstash), one
   * `loadMany` call with only the keys this caller must load, results in the order of `keys`. Duplicate keys are
   * read and loaded once; every per-key rule of `getOrSet` holds (fence, tags, schema, stale windows, metrics).
   * @typeParam S - The type of `ctx.stale`'s values: what an explicit `getOrSetMany<User>(…)` sets.
   * @typeParam T - The value's type, inferred from what `loadMany` returns (it must fit `S`).
   * @example
   * const users = await cache.getOrSetMany(['user:1', 'user:2'], (missing) => db.users.byKeys(missing), { tags: ['users'] })
   */
  getOrSetMany<S = unknown, T extends S = S>(
    keys: readonly string[],
    loadMany: LoadMany<T, S>,
    options?: GetOrSetOptions<T>,
  ): Promise<(T | undefined)[]>
  /** Stores several values unconditionally, as `set` does each (one write per key, in parallel). */
  setMany<T>(entries: readonly (readonly [string, T])[] | ReadonlyMap<string, T>, options?: SetOptions): Promise<void>
  /** Removes several keys, as `delete` does each; a load that began before cannot write back. */
  deleteMany(keys: readonly string[]): Promise<void>
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
  const clock = o.clock ?? systemClock
  let backend: Backend | undefined
  const telemetry = new Telemetry({
    metrics: o.metrics,
    namespace: o.namespace,
    logger: o.logger,
    circuit: () => backend?.circuit ?? 'disabled',
    l1: () => (l1 ? { live: l1.serving, entries: l1.size, evictions: l1.evictions } : undefined),
  })
  const breaker = o.circuitBreaker
    ? new CircuitBreaker(o.circuitBreaker.threshold, o.circuitBreaker.duration, clock, (change) => {
        if (change.state === 'open') telemetry.circuitOpened(adapter.name, change.failures, change.retryInMs)
        else telemetry.circuitClosed(adapter.name)
      })
    : undefined
  backend = new Backend(adapter, o.timeout, breaker)
  if (o.l1 && (o.adapter === undefined || adapter.name === 'memory')) {
    throw new CacheOptionsError([
      { path: 'l1', message: 'the memory adapter is in-process already: l1 is for a shared backend (Redis, Upstash)' },
    ])
  }
  if (o.l1 && !adapter.subscribe && o.l1.ttl === undefined) {
    throw new CacheOptionsError([
      {
        path: 'l1.ttl',
        message: `the ${adapter.name} adapter cannot subscribe to the backend's change announcements, so l1 needs an explicit ttl: the longest another process's change may take to reach this one`,
      },
    ])
  }
  if (o.waitForReplicas && !adapter.replicated) {
    throw new CacheOptionsError([
      {
        path: 'waitForReplicas',
        message: `the ${adapter.name} adapter has no replicas to wait for (Redis WAIT): ioredis and node-redis adapters only`,
      },
    ])
  }
  const l1 = o.l1 ? new L1(o.l1, backend.subscribe) : undefined
  const core: Core = {
    backend,
    serializer: o.serializer ?? jsonSerializer,
    clock,
    telemetry,
    flight: new SingleFlight<Outcome>({ queue: !requestBoundIo }),
    timeout: o.timeout,
    lockTtl: o.lockTtl,
    lockWait: o.lockWait,
    maxBatchKeys: o.maxBatchKeys,
    background: new Set(),
    lifetime: createLifetime(),
    waitUntil: o.waitUntil,
    backoff: new Map(),
    refreshing: new Set(),
    loads: new Set(),
    present: new PresentKeys(MAX_PRESENT_KEYS),
    l1,
    compression: o.compress,
    waitForReplicas: o.waitForReplicas,
  }
  const namespaces = o.namespace === undefined ? [] : [o.namespace]
  // Whatever the namespace holds, every tag record of this client starts with the same `{…` up to the
  // first `}`, so all of them hash to one cluster slot and one script reads several at once.
  // `{:tags}` for no namespace: a namespace is never empty, so it cannot collide with one.
  const tagPrefix = `{${o.namespace ?? ''}:tags}:`
  const scope: Scope = {
    prefix: prefixOf(namespaces),
    tagPrefix,
    namespace: o.namespace,
    policy: o.policy,
    l1: o.l1 ? { ttl: o.l1.ttl } : false,
    maxValueBytes: o.maxValueBytes,
    fullKeys: new Map(),
  }
  return makeClient(core, scope, o.enabled)
}

/** Closes the client's core once: see `CacheClient.close`. */
async function closeCore(core: Core): Promise<void> {
  const reason = new CacheClosedError()
  core.lifetime.abort(reason)
  // Loads under way are aborted (their signal, and their wait for a loader that ignores it); background
  // refreshes therefore settle at once, lock releases within `timeout`.
  for (const stop of core.loads) stop(reason)
  core.l1?.stop()
  await Promise.allSettled([...core.background])
  await core.backend.dispose()
}

/** A client over `core`, scoped to `scope`: each method checks its input and hands the call to its module. */
function makeClient(core: Core, scope: Scope, enabled: boolean): CacheClient {
  const open = () => {
    if (core.lifetime.signal.aborted) throw new CacheClosedError()
  }
  const read = async (key: string, options: GetOptions | undefined, counted: boolean) => {
    open()
    assertKey(key)
    const c = {
      core,
      scope,
      key,
      full: fullKey(scope, key),
      call: resolveCallOptions('get', scope.policy, options),
    }
    return readOnly(c, enabled, counted, () => tombstone(core, scope, key))
  }

  const client: CacheClient = {
    // Not async: an answer from the in-process tier costs exactly the one promise it returns.
    getOrSet<S, T extends S>(key: string, loader: Loader<T, S>, options?: GetOrSetOptions<T>): Promise<T> {
      try {
        open()
        return getOrSet(core, scope, enabled, key, loader as Loader<T>, options)
      } catch (error) {
        return Promise.reject(error)
      }
    },

    get: <T>(key: string, options?: GetOptions<T>) => read(key, options, true) as Promise<T | undefined>,

    getOrSetMany<S, T extends S>(
      keys: readonly string[],
      loadMany: LoadMany<T, S>,
      options?: GetOrSetOptions<T>,
    ): Promise<(T | undefined)[]> {
      try {
        open()
        return getOrSetMany(core, scope, enabled, keys, loadMany as LoadMany<T>, options)
      } catch (error) {
        return Promise.reject(error)
      }
    },

    async getMany<T>(keys: readonly string[], options?: GetOptions<T>) {
      assertKeyList(keys, core.maxBatchKeys)
      return Promise.all(keys.map((key) => read(key, options, true) as Promise<T | undefined>))
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
      if (call.policy.ttl === 0) return tombstone(core, scope, key)
      return storeGiven({ core, scope, key, full: scope.prefix + key, call }, value)
    },

    async setMany<T>(entries: readonly (readonly [string, T])[] | ReadonlyMap<string, T>, options?: SetOptions) {
      open()
      const list = entries instanceof Map ? [...entries] : entries
      if (!Array.isArray(list) || !list.every((e) => Array.isArray(e) && e.length === 2)) {
        throw new CacheOptionsError([
          { path: 'entries', message: 'expected an array of [key, value] pairs or a Map from key to value' },
        ])
      }
      assertKeyList(
        list.map((e) => e[0]),
        core.maxBatchKeys,
        'entries keys',
      )
      const call = resolveCallOptions('set', scope.policy, options)
      for (const [key, value] of list) {
        if (value === undefined) throw new CacheValueError(key, 'undefined is never stored (use delete)')
      }
      if (!enabled) return
      // One write per key, each with its own deadline and fence semantics of set(); the last value of a key wins.
      const last = [...new Map<string, T>(list)]
      if (call.policy.ttl === 0) {
        await Promise.all(last.map(([key]) => tombstone(core, scope, key)))
        return
      }
      const calls = last.map(([key]) => ({ core, scope, key, full: scope.prefix + key, call }))
      // Every value sized (again with its tag read's start) before the first write: a refusal writes none of them.
      const values = last.map(([, value]) => value)
      const bodies = await Promise.all(calls.map((c, i) => prepareGiven(c, values[i])))
      const stamped = await Promise.all(calls.map((c, i) => stampGiven(c, values[i], bodies[i])))
      await Promise.all(calls.map((c, i) => storeGiven(c, values[i], stamped[i])))
    },

    async deleteMany(keys) {
      open()
      assertKeyList(keys, core.maxBatchKeys)
      await deleteKeys(core, scope, [...new Set(keys)], enabled)
    },

    async delete(key) {
      open()
      assertKey(key)
      await deleteKey(core, scope, key, enabled)
    },

    async invalidateTags(tags) {
      open()
      await invalidateTags(core, scope, tags, enabled)
    },

    async invalidatePattern(pattern) {
      open()
      return invalidatePattern(core, scope, pattern, enabled)
    },

    async clear() {
      open()
      return clear(core, scope, enabled)
    },

    namespace(name, options) {
      assertNamespace(name)
      const settings = resolveNamespaceOptions(scope, options, core.l1 !== undefined)
      const path = scope.namespace === undefined ? name : `${scope.namespace}:${name}`
      return makeClient(
        core,
        { ...scope, ...settings, prefix: `${scope.prefix}${name}:`, namespace: path, fullKeys: new Map() },
        enabled,
      )
    },

    define: (options) => defineEntry(client, options, core.maxBatchKeys),
    metrics: () => core.telemetry.metrics.snapshot(),
    resetMetrics: () => core.telemetry.metrics.reset(),
    on: (event, listener) => core.telemetry.events.on(event, listener),
    off: (event, listener) => core.telemetry.events.off(event, listener),

    async health() {
      const started = performance.now()
      // Closed: no ping (no command after close()), and never a rejection.
      if (core.lifetime.signal.aborted) {
        return { ok: false, latencyMs: 0, adapter: core.backend.name, error: new CacheClosedError().message }
      }
      try {
        await core.backend.ping()
        return { ok: true, latencyMs: performance.now() - started, adapter: core.backend.name }
      } catch (error) {
        const safe = reportBackendError(core, scope, 'ping', undefined, error)
        return { ok: false, latencyMs: performance.now() - started, adapter: core.backend.name, error: safe.message }
      }
    },

    close() {
      // A second close() (a shutdown hook and a test's afterEach, say) resolves when the first has finished.
      core.closing ??= closeCore(core)
      return core.closing
    },
  }
  Object.defineProperty(client, CATEGORY_LABEL, {
    value: (category: string) => core.telemetry.metrics.labelOf(category),
  })
  return client
}
