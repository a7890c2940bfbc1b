/**
 * The contract's exact metrics under concurrency: each call counts one hit, stale hit or miss, whatever joined,
 * waited or refreshed.
 * @module
 */
import type { CacheClient } from '../../index.js'
import { gate, type Suite, sleep } from '../suite.js'

export function metricsCases(s: Suite): void {
  const { expect } = s
  s.describe('metrics under concurrency: exact counts', () => {
    // Counters other than these stay at zero: asserted so a double count anywhere shows.
    const counters = (cache: CacheClient) => {
      const { latency, namespace, circuit, categories, hitRate, l1, ...rest } = cache.metrics()
      return rest
    }
    const zero = {
      hits: 0,
      l1Hits: 0,
      staleHits: 0,
      misses: 0,
      loads: 0,
      loadErrors: 0,
      loadTimeouts: 0,
      errors: 0,
      lockWaits: 0,
      lockTimeouts: 0,
      refreshes: 0,
      oversized: 0,
      invalidations: 0,
    }

    s.it('single-flight joiners: 40 callers of a cold key are 40 misses, 1 load, 1 load latency sample', async () => {
      const cache = s.make()
      const held = gate()
      const loader = async () => {
        await held.promise
        return 'v'
      }
      const all = Promise.all(Array.from({ length: 40 }, () => cache.getOrSet('joined', loader, { category: 'c' })))
      await sleep(20)
      held.open()
      expect([...new Set(await all)]).toEqual(['v'])
      await cache.getOrSet('joined', loader, { category: 'c' })
      expect(counters(cache)).toEqual({ ...zero, misses: 40, hits: 1, loads: 1 })
      const m = cache.metrics()
      expect(m.categories.c).toMatchObject({ misses: 40, hits: 1, loads: 1 })
      expect(m.latency.loads.count).toBe(1)
      expect(m.latency.hits.count).toBe(1)
    })

    s.timed('stale-while-revalidate: 30 stale callers, one background load and one refresh', async () => {
      const cache = s.make({ ttl: 150, staleWhileRevalidate: '10s' })
      let n = 0
      const loader = async () => {
        n++
        await sleep(30)
        return n
      }
      await cache.getOrSet('swr-count', loader)
      await sleep(250)
      await Promise.all(Array.from({ length: 30 }, () => cache.getOrSet('swr-count', loader)))
      await sleep(200)
      expect(counters(cache)).toEqual({ ...zero, misses: 1, staleHits: 30, loads: 2, refreshes: 1 })
      expect(cache.metrics().latency.hits.count).toBe(30)
    })

    s.timed('stale-if-error: 30 callers of a failing loader get stale from one failed load', async () => {
      const cache = s.make({ ttl: 150, staleIfError: '10s' })
      await cache.getOrSet('sie-count', () => 'old')
      await sleep(250)
      const failing = async () => {
        await sleep(20)
        throw new Error('db down')
      }
      const values = await Promise.all(Array.from({ length: 30 }, () => cache.getOrSet('sie-count', failing)))
      expect([...new Set(values)]).toEqual(['old'])
      expect(counters(cache)).toEqual({ ...zero, misses: 1, staleHits: 30, loads: 2, loadErrors: 1 })
    })

    s.it('a caller waiting on another process’s load counts one lock wait and no load of its own [C2]', async () => {
      const namespace = s.ns()
      const a = s.make({ namespace })
      const b = s.make({ namespace }, s.makePeer())
      const held = gate()
      const started = gate()
      const first = a.getOrSet('waited', async () => {
        started.open()
        await held.promise
        return 'from-a'
      })
      await started.promise // a holds the lock now
      const second = b.getOrSet('waited', () => 'from-b')
      await sleep(50)
      held.open()
      expect(await Promise.all([first, second])).toEqual(['from-a', 'from-a'])
      expect(counters(b)).toEqual({ ...zero, misses: 1, lockWaits: 1 })
      expect(counters(a)).toEqual({ ...zero, misses: 1, loads: 1 })
    })

    s.it('counts each successful invalidation once', async () => {
      const cache = s.make()
      await cache.set('a', 1, { tags: ['t'] })
      await cache.delete('a')
      await cache.invalidateTags(['t', 't'])
      await cache.invalidatePattern('a*')
      await cache.clear()
      expect(cache.metrics().invalidations).toBe(4)
    })
  })
}
