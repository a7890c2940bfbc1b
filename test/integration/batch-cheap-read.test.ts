/**
 * The cheap read of a batch (one MGET of keys found fresh a moment ago) on a real redis-server keeps the promises
 * of the full read: an abort during it rejects the batch, and a backend that stops answering costs one timeout
 * before the loader answers, as it does for one key.
 */
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import type { CacheClient, CacheClientOptions } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'
import { startTcpProxy } from '../support/tcp-proxy.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('batch-cheap')

function make(options: CacheClientOptions = {}, url = inject('redisUrl')): CacheClient {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  cleanup.push(() => redis.disconnect())
  const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace: ns(), ...options })
  cleanup.push(() => cache.close())
  return cache
}

const loadMany = async (keys: string[]) => keys.map((k) => `v:${k}`)

describe('getOrSetMany’s cheap read', () => {
  it('rejects a batch aborted while its MGET is on its way, and counts each key a miss', async () => {
    const cache = make()
    await cache.getOrSetMany(['a', 'b'], loadMany)
    // Found fresh: the next batch reads with one MGET.
    expect(await cache.getOrSetMany(['a', 'b'], loadMany)).toEqual(['v:a', 'v:b'])
    cache.resetMetrics()
    const controller = new AbortController()
    const batch = cache.getOrSetMany(['a', 'b'], loadMany, { signal: controller.signal })
    controller.abort(new Error('client went away'))
    await expect(batch).rejects.toThrow('client went away')
    expect(cache.metrics()).toMatchObject({ hits: 0, misses: 2 })
  })

  it('answers from loadMany one timeout after the backend stopped answering, as getOrSet does', async () => {
    const proxy = await startTcpProxy(Number(new URL(inject('redisUrl')).port))
    cleanup.push(() => proxy.stop())
    const timeout = 300
    const cache = make({ timeout, circuitBreaker: false }, proxy.url)
    await cache.getOrSetMany(['a', 'b'], loadMany)
    await cache.getOrSetMany(['a', 'b'], loadMany)
    await cache.getOrSet('s', () => 's')
    await cache.getOrSet('s', () => 's')
    proxy.mode = 'hold'
    let started = performance.now()
    expect(await cache.getOrSet('s', () => 'loaded')).toBe('loaded')
    const single = performance.now() - started
    started = performance.now()
    const loaded = async (keys: string[]) => keys.map((k) => `loaded:${k}`)
    expect(await cache.getOrSetMany(['a', 'b'], loaded)).toEqual(['loaded:a', 'loaded:b'])
    const batch = performance.now() - started
    proxy.mode = 'forward'
    expect(single).toBeLessThan(timeout + 150)
    // The old code followed the timed-out MGET with the full read script: two timeouts (~620 ms).
    expect(batch).toBeLessThan(timeout + 150)
    // Nothing was written while the backend did not answer: the values cached before are still there.
    expect(await cache.getOrSetMany(['a', 'b'], loadMany)).toEqual(['v:a', 'v:b'])
  })
})
