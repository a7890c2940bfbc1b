/**
 * Upstash faults met through the adapter and the real @upstash/redis client, on private endpoints (their faults
 * disturb no other suite) forwarding to the shared redis-server.
 */
import { Redis as Upstash } from '@upstash/redis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import { CacheBackendError, createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'
import { startUpstashRest } from '../support/upstash-rest.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('upstash-scen')

async function endpoint() {
  const server = await startUpstashRest({ redisUrl: inject('redisUrl') })
  cleanup.push(() => server.stop())
  return server
}

describe('a per-item {error} in an auto-pipelined reply', () => {
  it('fails only the command it answers: that call goes the backend error path (typed, no token, no value) and the loader answers, while the calls beside it in the same pipeline are served [U4]', async () => {
    const server = await endpoint()
    // Client defaults: auto-pipelining on, so calls made in one tick travel in one /pipeline request.
    const client = new Upstash({ url: server.url, token: server.token, enableTelemetry: false })
    const cache = createCacheClient({ adapter: upstashAdapter(client), namespace: ns(), timeout: 2_000 })
    cleanup.push(() => cache.close())
    const errors: Array<{ operation: string; error: Error }> = []
    cache.on('error', (e) => errors.push(e))

    await cache.set('healthy', 'cached-healthy')
    await cache.set('faulty', 'cached-secret-value')
    // Every command naming a key that ends in "faulty" answers a per-item error; the rest of its pipeline runs.
    server.failItems((_, args) =>
      args.some((a) => a.endsWith(':faulty')) ? 'ERR injected per-item failure' : undefined,
    )

    const [faultyRead, healthyRead] = await Promise.all([
      cache.getOrSet('faulty', () => 'from-db'),
      cache.getOrSet('healthy', () => 'not called'),
    ])
    expect(faultyRead).toBe('from-db')
    expect(healthyRead).toBe('cached-healthy')
    expect(server.faulted.length).toBeGreaterThan(0)
    expect(server.faulted.every((f) => f.path === '/pipeline')).toBe(true)
    expect(errors.map((e) => e.operation)).toEqual(['read'])

    const [write, other] = await Promise.all([
      cache.set('faulty', 'another-secret-value').catch((e: unknown) => e),
      cache.set('healthy', 'written'),
    ])
    expect(write).toBeInstanceOf(CacheBackendError)
    expect(write).toMatchObject({ code: 'CACHEWARD_BACKEND' })
    expect(other).toBeUndefined()
    const invalidation = await cache.delete('faulty').catch((e: unknown) => e)
    expect(invalidation).toBeInstanceOf(CacheBackendError)

    const everything = [
      ...errors.map((e) => `${e.error.message} ${String(e.error.cause)}`),
      String(write),
      JSON.stringify(write),
      String((write as Error).cause),
      String(invalidation),
      String((invalidation as Error).cause),
    ].join('\n')
    expect(everything).toMatch(/injected per-item failure/)
    expect(everything).not.toContain(server.token)
    expect(everything).not.toContain('secret-value')
    expect(cache.metrics().errors).toBeGreaterThanOrEqual(2)

    // The fault gone, the key is served again; the write that failed left the old value (no partial write).
    server.failItems(undefined)
    expect(await cache.get('faulty')).toBe('cached-secret-value')
    expect(await cache.get('healthy')).toBe('written')
  })
})

// @upstash/redis with a static `signal` (an AbortSignal, not a function returning one): once it has aborted, the
// client does not reject its requests, it resolves each with the abort reason as if the server had answered it.
describe.each([
  ['auto-pipelining on (client default)', {}],
  ['auto-pipelining off', { enableAutoPipelining: false }],
  ['auto-pipelining and deserialization off', { enableAutoPipelining: false, automaticDeserialization: false }],
] as const)('a client built with a static signal that has aborted, %s', (_, options) => {
  it('is never taken for a miss, a stored value or a done write: reads go to the loader and count an error, writes, deletes and tag invalidations reject, health is not ok, and the server is left unchanged [U3]', async () => {
    const server = await endpoint()
    const namespace = ns()
    const aborted = new AbortController()
    const client = new Upstash({ url: server.url, token: server.token, signal: aborted.signal, ...options })
    const cache = createCacheClient({ adapter: upstashAdapter(client), namespace, circuitBreaker: false })
    const plain = createCacheClient({
      adapter: upstashAdapter(new Upstash({ url: server.url, token: server.token })),
      namespace,
    })
    cleanup.push(
      () => cache.close(),
      () => plain.close(),
    )
    await plain.set('cached', 'stored')
    await plain.set('tagged', 'stored', { tags: ['tag'] })
    aborted.abort()

    let loads = 0
    expect(await cache.getOrSet('cached', () => `loaded ${++loads}`)).toBe('loaded 1')
    expect(await cache.getOrSet('fresh', () => `loaded ${++loads}`)).toBe('loaded 2')
    const readErrors = cache.metrics().errors
    expect(readErrors).toBeGreaterThanOrEqual(2)
    expect(await cache.get('cached')).toBeUndefined()
    expect(cache.metrics().errors).toBeGreaterThan(readErrors) // not a plain miss

    const refused = async (work: Promise<unknown>) => {
      const outcome = await work.then(
        () => 'resolved',
        (e: unknown) => e,
      )
      expect(outcome).toBeInstanceOf(CacheBackendError)
    }
    await refused(cache.set('cached', 'written'))
    await refused(cache.delete('cached'))
    await refused(cache.invalidateTags(['tag']))
    await refused(cache.invalidatePattern('*'))
    expect(await cache.health()).toMatchObject({ ok: false })

    // Nothing reached the server: a resolved delete() or invalidateTags() above would have been a lie.
    expect(await plain.get('cached')).toBe('stored')
    expect(await plain.get('tagged')).toBe('stored')
    expect(await plain.get('fresh')).toBeUndefined()
    expect(server.requests).toBeGreaterThan(0) // only the plain client's
  })
})
