/**
 * Resilience: hardTimeout, on every backend (memory, redis-server, the cluster, Upstash).
 */
import { expect, it } from 'vitest'
import { CacheLoadTimeoutError } from '../../../src/errors.js'
import { isCachewardError } from '../../../src/index.js'
import { describeOnBackends, hanging, sleep, timed } from '../../support/resilience.js'

describeOnBackends('hardTimeout', ({ make, ns }) => {
  it('aborts the loader’s signal and rejects with CacheLoadTimeoutError; nothing is stored and another process loads at once [C13]', async () => {
    const namespace = ns()
    const cache = make({ namespace, hardTimeout: 100 })
    let signal: AbortSignal | undefined
    const { value: error, ms } = await timed(
      cache
        .getOrSet('k', (ctx) => {
          signal = ctx.signal
          return hanging(ctx)
        })
        .catch((e: unknown) => e),
    )
    expect(error).toBeInstanceOf(CacheLoadTimeoutError)
    expect(error).toMatchObject({ code: 'CACHEWARD_LOAD_TIMEOUT', name: 'CacheLoadTimeoutError', key: 'k' })
    expect(isCachewardError(error)).toBe(true)
    expect(ms).toBeGreaterThanOrEqual(95)
    expect(ms).toBeLessThan(400)
    expect(signal?.aborted).toBe(true)
    expect(signal?.reason).toBe(error)
    expect(cache.metrics()).toMatchObject({ loads: 1, loadErrors: 1, misses: 1 })

    // The timed-out load let go of its lock: another process does not wait for it (lockWait is 5 s).
    const peer = make({ namespace })
    const loaded = await timed(peer.getOrSet('k', () => 'fresh'))
    expect(loaded.value).toBe('fresh')
    expect(loaded.ms).toBeLessThan(300)
  })

  it('stores nothing from a loader that ignores the abort and finishes late', async () => {
    const cache = make({ hardTimeout: 80 })
    const late = async () => {
      await sleep(200)
      return 'late'
    }
    await expect(cache.getOrSet('k', late)).rejects.toBeInstanceOf(CacheLoadTimeoutError)
    await sleep(250)
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.getOrSet('k', () => 'next', { hardTimeout: 0 })).toBe('next')
  })

  it('answers with the stale value inside staleIfError and counts a load error [F6]', async () => {
    const cache = make({ ttl: 100, staleIfError: '10s', hardTimeout: 80 })
    const loadErrors: unknown[] = []
    cache.on('load-error', (e) => loadErrors.push(e.error))
    await cache.getOrSet('k', () => 'v1')
    await sleep(150)
    const { value, ms } = await timed(cache.getOrSet('k', hanging))
    expect(value).toBe('v1')
    expect(ms).toBeGreaterThanOrEqual(75)
    expect(ms).toBeLessThan(400)
    expect(loadErrors).toHaveLength(1)
    expect(loadErrors[0]).toBeInstanceOf(CacheLoadTimeoutError)
    expect(cache.metrics()).toMatchObject({ staleHits: 1, loadErrors: 1 })
  })
})
