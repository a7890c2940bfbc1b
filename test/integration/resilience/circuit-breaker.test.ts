/**
 * Resilience: circuit breaker, on every backend (memory, redis-server, the cluster, Upstash).
 */
import { expect, it } from 'vitest'
import type { CacheClient, CacheClientOptions } from '../../../src/index.js'
import { chaosAdapter } from '../../../src/testing/index.js'
import { describeOnBackends, sleep, timed } from '../../support/resilience.js'

describeOnBackends('circuit breaker', ({ backend, make }) => {
  const breaker = (options: CacheClientOptions = {}) => {
    const link = chaosAdapter(backend.adapter())
    const cache = make({ adapter: link, timeout: 100, ...options })
    const transitions: unknown[] = []
    cache.on('circuit-open', (e) => transitions.push({ open: e }))
    cache.on('circuit-close', (e) => transitions.push({ close: e }))
    return { cache, link, transitions }
  }
  /** Calls getOrSet on fresh keys until the circuit opens; returns how many calls it took. */
  const failUntilOpen = async (cache: CacheClient, transitions: unknown[], most: number) => {
    let n = 0
    while (transitions.length === 0 && n < most) {
      expect(await cache.getOrSet(`fail:${n}`, () => 'from-db')).toBe('from-db')
      n++
    }
    return n
  }

  it('opens after threshold consecutive failures; then reads come from the loader without touching the backend and writes reject [F5]', async () => {
    const { cache, link, transitions } = breaker({ timeout: 1_000, circuitBreaker: { threshold: 3, duration: '10s' } })
    // The faults here are injected errors, answered at once: a timeout of 1 s only keeps a busy machine's slow
    // first request (seen on Upstash past 100 ms) from counting. Warm until one call goes through cleanly,
    // which also resets the breaker's count of failures.
    for (let tries = 0; tries < 5; tries++) {
      const errors = cache.metrics().errors
      expect(await cache.getOrSet('warm', () => 'w')).toBe('w')
      if (cache.metrics().errors === errors) break
    }
    link.setFaults({ errorRate: 1 })
    expect(await failUntilOpen(cache, transitions, 10)).toBe(3)
    expect(transitions).toEqual([{ open: { adapter: link.name, failures: 3, retryInMs: 10_000 } }])

    const calls = link.calls()
    const errors = cache.metrics().errors
    const { value, ms } = await timed(
      Promise.all(Array.from({ length: 20 }, (_, i) => cache.getOrSet(`open:${i}`, () => i))),
    )
    expect(value).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect(ms).toBeLessThan(50)
    expect(await cache.get('warm')).toBeUndefined()
    const write = await cache.set('k', 1).catch((e: unknown) => e)
    expect(write).toMatchObject({ code: 'CACHEWARD_BACKEND', name: 'CacheCircuitOpenError' })
    await expect(cache.delete('k')).rejects.toMatchObject({ code: 'CACHEWARD_BACKEND' })
    await expect(cache.invalidateTags(['t'])).rejects.toMatchObject({ code: 'CACHEWARD_BACKEND' })
    expect(link.calls()).toBe(calls)
    // Skipped calls are not backend failures: no flood of error events while open.
    expect(cache.metrics().errors).toBe(errors)
  })

  it('lets one probe through after duration; its success closes the circuit and caching resumes [F5]', async () => {
    const { cache, link, transitions } = breaker({ circuitBreaker: { threshold: 2, duration: 200 } })
    link.setFaults({ errorRate: 1 })
    expect(await failUntilOpen(cache, transitions, 10)).toBe(2)
    expect(transitions).toHaveLength(1)
    link.setFaults({ latency: 50 })
    await sleep(250)
    // Backend reads of either kind: a hit may take peek, the adapter's cheaper read, which the chaos wrapper keeps.
    const backendReads = () => link.calls('read') + link.calls('peek')
    const reads = backendReads()
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => cache.getOrSet(`probe:${i}`, () => i)))
    expect(burst).toEqual(Array.from({ length: 10 }, (_, i) => i))
    expect(backendReads()).toBe(reads + 1)
    expect(transitions).toEqual([
      { open: { adapter: link.name, failures: 2, retryInMs: 200 } },
      { close: { adapter: link.name } },
    ])
    link.setFaults({})
    let calls = 0
    await cache.getOrSet('after', () => ++calls)
    expect(await cache.getOrSet('after', () => ++calls)).toBe(1)
    expect(backendReads()).toBe(reads + 3)
  })

  it('stays open for another duration when the probe fails', async () => {
    const { cache, link, transitions } = breaker({ circuitBreaker: { threshold: 2, duration: 200 } })
    link.setFaults({ errorRate: 1 })
    expect(await failUntilOpen(cache, transitions, 10)).toBe(2)
    await sleep(250)
    const calls = link.calls()
    expect(await cache.getOrSet('probe', () => 'p')).toBe('p')
    // The probe, and the release of the lock its failed read may have taken (sent although the breaker is open).
    expect(link.calls()).toBe(calls + 2)
    expect(await cache.getOrSet('skipped', () => 's')).toBe('s')
    await sleep(100)
    expect(await cache.getOrSet('skipped', () => 's')).toBe('s')
    expect(link.calls()).toBe(calls + 2)
    link.setFaults({})
    await sleep(150)
    expect(await cache.getOrSet('k', () => 'k')).toBe('k')
    expect(transitions).toHaveLength(2)
    expect(transitions[1]).toEqual({ close: { adapter: link.name } })
  })

  it('opens after 5 failures for 5 seconds by default', async () => {
    const { cache, link, transitions } = breaker()
    link.setFaults({ errorRate: 1 })
    expect(await failUntilOpen(cache, transitions, 10)).toBe(5)
    expect(transitions).toEqual([{ open: { adapter: link.name, failures: 5, retryInMs: 5_000 } }])
  })

  it('never skips the backend with circuitBreaker: false', async () => {
    const { cache, link, transitions } = breaker({ circuitBreaker: false })
    link.setFaults({ errorRate: 1 })
    for (let i = 0; i < 20; i++) {
      const reads = link.calls('read')
      expect(await cache.getOrSet(`k${i}`, () => i)).toBe(i)
      expect(link.calls('read')).toBe(reads + 1)
    }
    expect(transitions).toEqual([])
  })
})
