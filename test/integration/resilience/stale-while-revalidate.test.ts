/**
 * Resilience: staleWhileRevalidate, on every backend (memory, redis-server, the cluster, Upstash).
 */
import { expect, it } from 'vitest'
import type { CacheClientOptions } from '../../../src/index.js'
import { boom, describeOnBackends, sleep, timed } from '../../support/resilience.js'

describeOnBackends('staleWhileRevalidate', ({ observed, ns }) => {
  // Regression: the stale-while-revalidate branch started a new refresh on every request after a failed one,
  // ignoring the back-off that refresh had recorded (fixed in 883318c).
  it('leaves a failing loader alone for errorBackoff when its background refresh failed [F7]', async () => {
    const { cache, tasks } = observed({ ttl: 50, staleWhileRevalidate: '10s', errorBackoff: '5s' })
    await cache.getOrSet('k', () => 'v1')
    await sleep(100)
    let calls = 0
    const failing = () => {
      calls++
      return boom()
    }
    for (let i = 0; i < 5; i++) {
      expect(await cache.getOrSet('k', failing)).toBe('v1')
      await Promise.all(tasks)
    }
    expect(cache.metrics()).toMatchObject({ staleHits: 5, loadErrors: calls })
    expect(calls).toBe(1)
  })

  it('starts exactly one refresh when two processes serve a stale key, and waitUntil settles once it is stored [C9]', async () => {
    const namespace = ns()
    const options: CacheClientOptions = { namespace, ttl: 100, staleWhileRevalidate: '10s' }
    const a = observed(options)
    const b = observed(options)
    let calls = 0
    const loader = async () => {
      calls++
      await sleep(calls === 1 ? 10 : 200)
      return calls
    }
    expect(await a.cache.getOrSet('k', loader)).toBe(1)
    await sleep(150)
    const { value, ms } = await timed(
      Promise.all([
        ...Array.from({ length: 20 }, () => a.cache.getOrSet('k', loader)),
        ...Array.from({ length: 20 }, () => b.cache.getOrSet('k', loader)),
      ]),
    )
    expect(new Set(value)).toEqual(new Set([1]))
    expect(ms).toBeLessThan(150)
    const tasks = [...a.tasks, ...b.tasks]
    expect(tasks).toHaveLength(1)
    await Promise.all(tasks)
    expect(calls).toBe(2)
    expect([...a.refreshes, ...b.refreshes]).toEqual([
      { key: 'k', namespace, category: undefined, reason: 'stale-while-revalidate' },
    ])
    expect(await a.cache.get('k')).toBe(2)
    expect(await b.cache.get('k')).toBe(2)
    expect(a.cache.metrics().staleHits + b.cache.metrics().staleHits).toBe(40)
  })
})
