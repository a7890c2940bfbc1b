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
