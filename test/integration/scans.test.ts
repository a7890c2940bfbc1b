/**
 * `invalidatePattern()` and `clear()` are writes like any other: each SCAN page and each batch is
 * bounded by `timeout` and goes through the circuit breaker, so a hung backend rejects them with a typed
 * error instead of leaving them pending (RELIABILITY F2, F5, K1). A large namespace still finishes: only
 * each step is bounded, not the whole walk. On a cluster, a client that is still connecting knows no
 * master yet; `clear()` waits for it (within `timeout`) instead of deleting nothing.
 */
import { Redis as Upstash } from '@upstash/redis'
import { Cluster, Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import type { CacheAdapter, CacheClientOptions } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'
import { startRedisServer } from '../support/redis-server.js'
import { startUpstashRest } from '../support/upstash-rest.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('scan')

function connect(url: string) {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  cleanup.push(() => redis.disconnect())
  return redis
}

function make(adapter: CacheAdapter, options: CacheClientOptions = {}) {
  const cache = createCacheClient({ adapter, namespace: ns(), timeout: 200, ...options })
  cleanup.push(() => cache.close())
  return cache
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await work
  return { value, ms: performance.now() - started }
}

describe('a hung redis-server (SIGSTOP)', () => {
  it('rejects invalidatePattern() and clear() within timeout with a typed error, then skips the backend once the breaker opens', async () => {
    const server = await startRedisServer()
    cleanup.push(() => server.stop())
    const cache = make(ioredisAdapter(connect(server.url)), { circuitBreaker: { threshold: 2, duration: '10s' } })
    await cache.set('a', 1)
    server.pause()
    try {
      for (const run of [() => cache.invalidatePattern('a*'), () => cache.clear()]) {
        const { value, ms } = await timed(run().catch((e: unknown) => e))
        expect(value).toMatchObject({ code: 'CACHEWARD_TIMEOUT', name: 'CacheTimeoutError' })
        expect(ms).toBeLessThan(200 + 150)
      }
      const { value, ms } = await timed(cache.clear().catch((e: unknown) => e))
      expect(value).toMatchObject({ code: 'CACHEWARD_BACKEND', name: 'CacheCircuitOpenError' })
      expect(ms).toBeLessThan(20)
    } finally {
      server.resume()
    }
  })
})

describe('a hung Upstash endpoint', () => {
  it('rejects invalidatePattern() and clear() within timeout with a typed error [U3]', async () => {
    const endpoint = await startUpstashRest({ redisUrl: inject('redisUrl') })
    cleanup.push(() => endpoint.stop())
    const client = new Upstash({ url: endpoint.url, token: endpoint.token, retry: false, enableTelemetry: false })
    const cache = make(upstashAdapter(client), { circuitBreaker: false })
    await cache.set('a', 1)
    endpoint.setMode('hang')
    for (const run of [() => cache.invalidatePattern('a*'), () => cache.clear()]) {
      const { value, ms } = await timed(run().catch((e: unknown) => e))
      expect(value).toMatchObject({ code: 'CACHEWARD_TIMEOUT', name: 'CacheTimeoutError' })
      expect(ms).toBeLessThan(200 + 150)
    }
    endpoint.setMode('ok')
  })
})

describe('a namespace too large to scan within one timeout', () => {
  it('is still cleared in full: each page is bounded, not the whole walk [L3]', async () => {
    const redis = connect(inject('redisUrl'))
    const namespace = ns()
    const keys = 30_000
    for (let i = 0; i < keys; i += 1_000) {
      const batch = redis.pipeline()
      for (let j = i; j < i + 1_000; j++)
        batch.set(`${namespace}:k${j}`, `cw1|g||0|1|1|1|1\n{"w":1,"v":${j}}`, 'PX', 60_000)
      await batch.exec()
    }
    const cache = make(ioredisAdapter(connect(inject('redisUrl'))), { namespace, timeout: 100 })
    const { value, ms } = await timed(cache.clear())
    expect(value).toBe(keys)
    // Not a bound to meet, a proof that the walk outlasted one timeout and still finished.
    expect(ms).toBeGreaterThan(100)
  })
})

describe('a cluster client that is still connecting', () => {
  it('clear() right after new Cluster() deletes every key of the namespace on every master [K1]', async () => {
    const nodes = inject('clusterNodes')
    const namespace = ns()
    const seed = new Cluster(nodes)
    cleanup.push(() => seed.disconnect())
    const seeded = 60
    await Promise.all(
      Array.from({ length: seeded }, (_, i) =>
        seed.set(`${namespace}:k${i}`, `cw1|g||0|1|1|1|1\n{"w":1,"v":${i}}`, 'PX', 60_000),
      ),
    )
    const fresh = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
    cleanup.push(() => fresh.disconnect())
    const cache = make(ioredisAdapter(fresh), { namespace, timeout: 2_000 })
    expect(await cache.clear()).toBe(seeded)
  })
})
