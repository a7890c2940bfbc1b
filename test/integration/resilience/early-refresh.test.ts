/**
 * Resilience: earlyRefresh, on every backend (memory, redis-server, the cluster, Upstash).
 */
import { expect, it } from 'vitest'
import type { CacheClientOptions } from '../../../src/index.js'
import { describeOnBackends, gate, sleep } from '../../support/resilience.js'

describeOnBackends('earlyRefresh', ({ make, observed, ns }) => {
  it('is off by default: hits right up to expiry never call the loader, however slow it was', async () => {
    const cache = make({ ttl: 400 })
    let calls = 0
    const slow = async () => {
      calls++
      await sleep(150)
      return calls
    }
    expect(await cache.getOrSet('k', slow)).toBe(1)
    // With earlyRefresh: true, each of these hits would start a refresh with probability up to ~0.5.
    const until = performance.now() + 330
    let hits = 0
    while (performance.now() < until) {
      expect(await cache.getOrSet('k', slow)).toBe(1)
      hits++
      await sleep(2)
    }
    expect(hits).toBeGreaterThan(20)
    expect(calls).toBe(1)
    expect(cache.metrics()).toMatchObject({ hits, loads: 1 })
  })

  it('starts one background refresh from a hit near expiry, which is still served at once', async () => {
    const { cache, tasks, refreshes } = observed({ ttl: 2_000, earlyRefresh: 2 })
    let calls = 0
    // The first load takes 300 ms (what XFetch weighs). The refresh is held until the hits below are all served:
    // "at once" means while it is still loading, however slow the backend's round trips are on this machine.
    const refresh = gate<void>()
    const loader = async () => {
      calls++
      if (calls === 1) await sleep(300)
      else await refresh.promise
      return calls
    }
    expect(await cache.getOrSet('k', loader)).toBe(1)
    // 450 ms before expiry, after a 300 ms load, with beta 2: each hit refreshes with probability ~0.47.
    await sleep(1_550)
    const values: number[] = []
    for (let i = 0; i < 30; i++) values.push(await cache.getOrSet('k', loader))
    expect(new Set(values)).toEqual(new Set([1]))
    expect(calls).toBe(2)
    expect(tasks).toHaveLength(1)
    refresh.open(undefined)
    await Promise.all(tasks)
    expect(refreshes).toMatchObject([{ key: 'k', reason: 'early-refresh' }])
    expect(cache.metrics()).toMatchObject({ hits: 30, misses: 1, loads: 2 })
    expect(await cache.get('k')).toBe(2)
  })

  it('never runs more than one early refresh of a key at a time, in one process or across two [C10]', async () => {
    const namespace = ns()
    // Beta 100 after a 50 ms load: about one hit in three starts a refresh, even 5 s before expiry.
    const options: CacheClientOptions = { namespace, ttl: '5s', earlyRefresh: 100 }
    const a = observed(options)
    const b = observed(options)
    const held = gate<string>()
    let calls = 0
    const loader = async () => {
      calls++
      if (calls === 1) {
        await sleep(50)
        return 'v1'
      }
      return held.promise
    }
    expect(await a.cache.getOrSet('k', loader)).toBe('v1')
    for (let i = 0; i < 40; i++) {
      expect(await a.cache.getOrSet('k', loader)).toBe('v1')
      expect(await b.cache.getOrSet('k', loader)).toBe('v1')
    }
    await sleep(20)
    expect(calls).toBe(2)
    held.open('v2')
    await Promise.all([...a.tasks, ...b.tasks])
    expect([...a.refreshes, ...b.refreshes]).toMatchObject([{ key: 'k', reason: 'early-refresh' }])
    expect(await b.cache.get('k')).toBe('v2')
  })
})
