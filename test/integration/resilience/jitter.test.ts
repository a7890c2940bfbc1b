/**
 * Resilience: jitter, on every backend (memory, redis-server, the cluster, Upstash).
 */
import { expect, it } from 'vitest'

import { describeOnBackends, sleep } from '../../support/resilience.js'

describeOnBackends('jitter', ({ backend, make, ns }) => {
  it('gives entries written together different fresh periods, each at most ttl', async () => {
    const cache = make({ ttl: 600, jitter: 0.5 })
    const keys = Array.from({ length: 30 }, (_, i) => `j${i}`)
    const fresh = async () => (await cache.getMany(keys)).filter((v) => v !== undefined).length
    const t0 = performance.now()
    await Promise.all(keys.map((k) => cache.getOrSet(k, () => k)))
    const t1 = performance.now()
    // Fresh periods are spread over [300, 600] ms.
    await sleep(Math.max(0, t0 + 150 - performance.now()))
    expect(await fresh()).toBe(keys.length)
    await sleep(Math.max(0, t0 + 450 - performance.now()))
    const midway = await fresh()
    expect(midway).toBeGreaterThan(0)
    expect(midway).toBeLessThan(keys.length)
    await sleep(Math.max(0, t1 + 650 - performance.now()))
    expect(await fresh()).toBe(0)
  })

  if (backend.pttl) {
    const pttl = backend.pttl
    it('shortens the Redis expiry by at most jitter × ttl and never lengthens it', async () => {
      const namespace = ns()
      const cache = make({ namespace, ttl: '10s', staleWhileRevalidate: '5s', staleIfError: '20s', jitter: 0.2 })
      const keys = Array.from({ length: 20 }, (_, i) => `p${i}`)
      await Promise.all(keys.map((k) => cache.getOrSet(k, () => k)))
      const ttls = await Promise.all(keys.map((k) => pttl(`${namespace}:${k}`)))
      for (const ms of ttls) {
        expect(ms).toBeLessThanOrEqual(30_000)
        expect(ms).toBeGreaterThan(28_000 - 1_000)
      }
      // Without jitter they would differ by the few ms the writes took.
      expect(Math.max(...ttls) - Math.min(...ttls)).toBeGreaterThan(300)
    })
  }
})
