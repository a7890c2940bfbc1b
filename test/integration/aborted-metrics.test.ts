/**
 * "Every getOrSet/get call counts exactly one of hit, stale hit or miss" (DESIGN.md); "a getOrSet that rejects (...
 * its signal aborted the wait) got no value, so it is a miss" (docs/08-metrics-events.md). On redis-server: a call
 * whose signal had already aborted when it was made counted nothing on the old code, one aborted a moment later a
 * miss; both are misses now, for getOrSet and per distinct key of getOrSetMany.
 */
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('abortmetrics')

describe('metrics of a getOrSet whose signal has aborted', () => {
  it('counts a call whose signal aborted before it was made as a miss, as one that aborts a moment later', async () => {
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
    redis.on('error', () => {})
    cleanup.push(() => redis.disconnect())
    const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace: ns(), circuitBreaker: false })
    cleanup.push(() => cache.close())
    const misses: string[] = []
    cache.on('miss', (e) => misses.push(e.key))

    // Aborted a moment after the call: rejected, counted as a miss.
    const later = new AbortController()
    const first = cache.getOrSet('a', () => new Promise<string>((r) => setTimeout(() => r('x'), 50)), {
      signal: later.signal,
    })
    later.abort(new Error('client went away'))
    await expect(first).rejects.toThrow('client went away')
    expect(cache.metrics().misses).toBe(1)

    // Aborted just before the call (the request ended while the handler ran): rejected the same way, and a miss.
    const before = new AbortController()
    before.abort(new Error('client went away'))
    await expect(cache.getOrSet('b', () => 'y', { signal: before.signal })).rejects.toThrow('client went away')
    expect(misses).toEqual(['a', 'b'])
    expect(cache.metrics().misses).toBe(2)
    // A batch: one miss per distinct key.
    await expect(cache.getOrSetMany(['c', 'd', 'c'], async (k) => k, { signal: before.signal })).rejects.toThrow(
      'client went away',
    )
    expect(misses).toEqual(['a', 'b', 'c', 'd'])
    expect(cache.metrics()).toMatchObject({ hits: 0, staleHits: 0, misses: 4 })
  })
})
