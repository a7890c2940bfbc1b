/**
 * Resilience: stampede lock, on every backend (memory, redis-server, the cluster, Upstash).
 */
import { expect, it } from 'vitest'
import { chaosAdapter } from '../../../src/testing/index.js'
import { describeOnBackends, gate, hanging, sleep, timed, waitFor } from '../../support/resilience.js'

describeOnBackends('stampede lock', ({ backend, make, ns }) => {
  it('keeps the lock of a load longer than lockTtl: another process waits and gets its value instead of loading', async () => {
    const namespace = ns()
    const a = make({ namespace, lockTtl: 100 })
    const b = make({ namespace, lockTtl: 100 })
    let calls = 0
    const loader = async () => {
      calls++
      await sleep(400)
      return `v${calls}`
    }
    const first = a.getOrSet('k', loader)
    await waitFor(() => calls === 1, 'the first load to start')
    await sleep(150) // past lockTtl: only extensions keep the lock alive now
    const { value, ms } = await timed(b.getOrSet('k', loader))
    expect(value).toBe('v1')
    expect(await first).toBe('v1')
    expect(calls).toBe(1)
    expect(ms).toBeGreaterThan(150)
    expect(b.metrics()).toMatchObject({ misses: 1, loads: 0 })
  })

  it('lets another process take over once lockTtl has passed when the holder lost the backend mid-load [C3]', async () => {
    const namespace = ns()
    const link = chaosAdapter(backend.adapter())
    const holder = make({ namespace, adapter: link, lockTtl: 300 })
    const other = make({ namespace })
    let holding = false
    const abandoned = holder
      .getOrSet('k', (ctx) => {
        holding = true
        return hanging(ctx)
      })
      .catch((e: unknown) => e)
    await waitFor(() => holding, 'the holder to take the lock')
    await sleep(200) // one extension went through
    link.setFaults({ hang: true }) // the holder is cut off: no more extensions, no release
    let calls = 0
    const { value, ms } = await timed(
      other.getOrSet('k', () => {
        calls++
        return 'taken over'
      }),
    )
    expect(value).toBe('taken over')
    expect(calls).toBe(1)
    // The lock ran out at most lockTtl after the last extension; without it, the other process would load at once.
    expect(ms).toBeGreaterThanOrEqual(50)
    expect(ms).toBeLessThan(300 + 400)
    expect(await other.get('k')).toBe('taken over')
    await holder.close()
    expect(await abandoned).toMatchObject({ code: 'CACHEWARD_CLOSED' })
  })

  it('loads in the waiter after lockWait when the holder is still loading [C3]', async () => {
    const namespace = ns()
    const a = make({ namespace })
    const b = make({ namespace, lockWait: 200 })
    const held = gate<string>()
    let calls = 0
    const first = a.getOrSet('k', () => {
      calls++
      return held.promise
    })
    await waitFor(() => calls === 1, 'the first load to start')
    const { value, ms } = await timed(
      b.getOrSet('k', () => {
        calls++
        return 'b'
      }),
    )
    expect(value).toBe('b')
    expect(ms).toBeGreaterThanOrEqual(180)
    expect(ms).toBeLessThan(600)
    held.open('a')
    expect(await first).toBe('a')
    expect(calls).toBe(2)
    expect(['a', 'b']).toContain(await a.get('k'))
  })
})
