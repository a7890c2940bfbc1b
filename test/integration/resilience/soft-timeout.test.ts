/**
 * Resilience: softTimeout, on every backend (memory, redis-server, the cluster, Upstash).
 */
import { expect, it } from 'vitest'

import { describeOnBackends, gate, sleep, timed, waitFor } from '../../support/resilience.js'

describeOnBackends('softTimeout', ({ make, observed, ns }) => {
  it('serves the stale value at softTimeout while the slow load finishes in the background and stores its value [F9]', async () => {
    const namespace = ns()
    const { cache, tasks, refreshes } = observed({ namespace, ttl: 100, staleIfError: '10s', softTimeout: 60 })
    await cache.getOrSet('k', () => 'v1')
    await sleep(150)
    let calls = 0
    const slow = async () => {
      calls++
      await sleep(300)
      return 'v2'
    }
    const { value, ms } = await timed(cache.getOrSet('k', slow))
    expect(value).toBe('v1')
    expect(ms).toBeGreaterThanOrEqual(55)
    expect(ms).toBeLessThan(250)
    expect(tasks).toHaveLength(1)
    await Promise.all(tasks)
    expect(refreshes).toEqual([{ key: 'k', namespace, category: undefined, reason: 'soft-timeout' }])
    expect(calls).toBe(1)
    expect(cache.metrics()).toMatchObject({ hits: 0, staleHits: 1, misses: 1, loads: 2 })
    expect(await cache.get('k')).toBe('v2')
  })

  it('returns the loaded value when the load beats softTimeout', async () => {
    const { cache, tasks } = observed({ ttl: 100, staleIfError: '10s', softTimeout: 300 })
    await cache.getOrSet('k', () => 'v1')
    await sleep(150)
    const quick = async () => {
      await sleep(20)
      return 'v2'
    }
    expect(await cache.getOrSet('k', quick)).toBe('v2')
    expect(await cache.get('k')).toBe('v2')
    expect(tasks).toHaveLength(0)
  })

  it('does not cut a load short when there is no stale value to serve', async () => {
    const cache = make({ staleIfError: '10s', softTimeout: 30 })
    const slow = async () => {
      await sleep(150)
      return 'loaded'
    }
    const { value, ms } = await timed(cache.getOrSet('cold', slow))
    expect(value).toBe('loaded')
    expect(ms).toBeGreaterThanOrEqual(140)
  })

  it('gives a caller waiting on another process’s load the stale value at softTimeout, without calling its loader', async () => {
    const namespace = ns()
    const a = make({ namespace, ttl: 100, staleIfError: '10s' })
    const b = make({ namespace, ttl: 100, staleIfError: '10s', softTimeout: 80 })
    await a.getOrSet('k', () => 'v1')
    await sleep(150)
    const held = gate<string>()
    let aLoading = false
    const first = a.getOrSet('k', () => {
      aLoading = true
      return held.promise
    })
    await waitFor(() => aLoading, 'the first process to start loading')
    let bCalls = 0
    const { value, ms } = await timed(
      b.getOrSet('k', () => {
        bCalls++
        return 'b'
      }),
    )
    expect(value).toBe('v1')
    expect(ms).toBeGreaterThanOrEqual(70)
    expect(ms).toBeLessThan(400)
    expect(bCalls).toBe(0)
    held.open('v2')
    expect(await first).toBe('v2')
    expect(await b.get('k')).toBe('v2')
    expect(b.metrics()).toMatchObject({ staleHits: 1, loads: 0 })
  })
})
