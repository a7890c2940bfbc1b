/**
 * Shared setup of the resilience suites (test/integration/resilience/): the backends each behaviour runs
 * on (memory, redis-server, the cluster, Upstash), a client factory per backend, and the small helpers
 * the cases use. Each suite file registers its behaviour with {@link describeOnBackends}.
 */
import { Redis as Upstash } from '@upstash/redis'
import { Cluster, Redis } from 'ioredis'
import { afterAll, describe, inject } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import type { CacheAdapter, CacheClient, CacheClientOptions, CacheEventMap } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from './keygen.js'

export interface Backend {
  name: string
  /** An adapter of its own on the backend, as another process would have. */
  adapter(): CacheAdapter
  /** Remaining backend expiry of a full key in ms. */
  pttl?(fullKey: string): Promise<number>
}

type Refresh = CacheEventMap['refresh']

/** What each case gets: its backend, and clients on it in a namespace of their own. */
export interface Suite {
  backend: Backend
  /** A client on the backend, in a fresh namespace unless one is given. */
  make(options?: CacheClientOptions): CacheClient
  /** A client plus the background tasks handed to its `waitUntil` and its `refresh` events. */
  observed(options?: CacheClientOptions): { cache: CacheClient; tasks: Promise<unknown>[]; refreshes: Refresh[] }
  /** A fresh namespace. */
  ns(): string
}

/** Registers `body` once per backend, under `behaviour`. Connections and clients close after the file. */
export function describeOnBackends(behaviour: string, body: (suite: Suite) => void): void {
  const connections: Redis[] = []
  const clusters: Cluster[] = []
  const clients: CacheClient[] = []
  const connect = () => {
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
    connections.push(redis)
    return redis
  }
  // One store for every client of the file: a second client is "another process" on the same backend.
  const memory = memoryAdapter({ maxEntries: 100_000 })
  let admin: Redis | undefined
  const backends: Backend[] = [
    { name: 'memory', adapter: () => memory },
    {
      name: 'redis-server (ioredis 5)',
      adapter: () => ioredisAdapter(connect()),
      pttl: (key) => {
        admin ??= connect()
        return admin.pttl(key)
      },
    },
    {
      name: 'redis cluster (3 masters)',
      adapter: () => {
        const cluster = new Cluster(inject('clusterNodes'), { redisOptions: { maxRetriesPerRequest: 1 } })
        clusters.push(cluster)
        return ioredisAdapter(cluster)
      },
    },
    {
      name: 'upstash (REST)',
      adapter: () =>
        upstashAdapter(
          new Upstash({ url: inject('upstashUrl'), token: inject('upstashToken'), enableTelemetry: false }),
        ),
    },
  ]
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await Promise.all(connections.map((c) => c.quit()))
    await Promise.all(clusters.map((c) => c.quit()))
  })

  describe.each(backends)('$name', (backend) => {
    const ns = keygen('resilience')
    const make = (options: CacheClientOptions = {}) => {
      const cache = createCacheClient({ adapter: backend.adapter(), namespace: ns(), ...options })
      clients.push(cache)
      return cache
    }
    const observed = (options: CacheClientOptions = {}) => {
      const tasks: Promise<unknown>[] = []
      const refreshes: Refresh[] = []
      const cache = make({ waitUntil: (task) => tasks.push(task), ...options })
      cache.on('refresh', (e) => refreshes.push(e))
      return { cache, tasks, refreshes }
    }
    describe(behaviour, () => body({ backend, make, observed, ns }))
  })
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await work
  return { value, ms: performance.now() - started }
}

/** A promise the test settles by hand, to hold a loader mid-flight. */
export function gate<T>() {
  let open!: (value: T) => void
  const promise = new Promise<T>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(5)
  }
}

/** A loader that never settles unless its signal aborts (as a well-behaved loader does on close()). */
export const hanging = (ctx: { signal: AbortSignal }) =>
  new Promise<never>((_, reject) => {
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })
  })

export const boom = () => {
  throw new Error('db down')
}
