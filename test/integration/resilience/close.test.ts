/**
 * Resilience: close(), on every backend (memory, redis-server, the cluster, Upstash).
 */
import { expect, it } from 'vitest'
import { chaosAdapter } from '../../../src/testing/index.js'
import { describeOnBackends, sleep, timed, waitFor } from '../../support/resilience.js'

describeOnBackends('close()', ({ backend, make, ns }) => {
  // Regressions (fixed in 883318c): load() awaited the loader itself, so a loader that ignores ctx.signal (a
  // query without a timeout) kept close() pending forever, and kept its lock heartbeat extending the lock
  // after close(), making other processes wait their full lockWait.
  it('resolves while a background refresh’s loader ignores its abort signal [F14, C13]', async () => {
    const cache = make({ ttl: 50, staleWhileRevalidate: '10s' })
    await cache.getOrSet('k', () => 'v1')
    await sleep(100)
    expect(await cache.getOrSet('k', () => new Promise<never>(() => {}))).toBe('v1')
    const closing = await Promise.race([cache.close().then(() => 'closed'), sleep(500).then(() => 'pending')])
    expect(closing).toBe('closed')
  })

  it('stops extending the lock of a load whose loader ignores its signal [F14]', async () => {
    const namespace = ns()
    const link = chaosAdapter(backend.adapter())
    const holder = make({ namespace, adapter: link, lockTtl: 100 })
    const other = make({ namespace, lockWait: 600 })
    let holding = false
    const pending = holder
      .getOrSet('k', () => {
        holding = true
        return new Promise<never>(() => {})
      })
      .catch((e: unknown) => e)
    await waitFor(() => holding, 'the holder to take the lock')
    await holder.close()
    const extensions = link.calls('extend')
    const { value, ms } = await timed(other.getOrSet('k', () => 'taken over'))
    expect(value).toBe('taken over')
    expect(link.calls('extend')).toBe(extensions)
    expect(ms).toBeLessThan(100 + 300)
    expect(await pending).toMatchObject({ code: 'CACHEWARD_CLOSED' })
  })
})
