/**
 * 50,000 distinct keys through one client: once their calls settle, what the client keeps per key in memory
 * (single-flight, back-off, recently present keys, refreshes, loads, background tasks) is empty or at its bound,
 * and no key is left locked. The client's internals are reached through `backingOff`, which every read passes
 * the client's core to.
 */
import { describe, expect, it, vi } from 'vitest'
import type { Core } from '../../src/core.js'

const cores = new Set<Core>()
vi.mock('../../src/load.js', async (original) => {
  const actual = await original<typeof import('../../src/load.js')>()
  return {
    ...actual,
    backingOff: (core: Core, full: string) => {
      cores.add(core)
      return actual.backingOff(core, full)
    },
  }
})

const { memoryAdapter } = await import('../../src/adapters/memory.js')
const { createCacheClient } = await import('../../src/index.js')
const { manualClock } = await import('../../src/testing/manual-clock.js')

// 50,000, not 100,000: a miss costs 60–120 µs here (mostly garbage collection), and the test stays under 10 s.
const KEYS = 50_000
/** Keys whose loader fails once they are stale: half again the back-off map's bound of 10,000. */
const FAILING = 15_000
const WAVE = 500

/** Runs `call` for every key, `WAVE` at a time concurrently. */
async function everyKey(call: (key: string, i: number) => Promise<unknown>, count = KEYS): Promise<void> {
  for (let from = 0; from < count; from += WAVE) {
    await Promise.all(Array.from({ length: WAVE }, (_, i) => call(`key:${from + i}`, from + i)))
  }
}

describe('50,000 distinct keys', () => {
  it('leave the in-process maps empty or bounded once settled, and no key locked [L2]', async () => {
    const clock = manualClock()
    const adapter = memoryAdapter({ maxEntries: KEYS * 2, clock })
    const options = { adapter, namespace: 'many', ttl: 1_000, staleIfError: 60_000, errorBackoff: 30_000 }
    const cache = createCacheClient(options)

    // Misses: one load per key, each stored.
    let t0 = performance.now()
    let wrong = 0
    await everyKey(async (key, i) => {
      if ((await cache.getOrSet(key, () => i)) !== i) wrong++
    })
    console.log(`${KEYS} misses: ${((performance.now() - t0) / KEYS) * 1000} µs each`)
    const [core] = cores
    expect(cores.size).toBe(1)
    if (!core) throw new Error('the client core was not captured')
    expect(core.flight.size).toBe(0)
    expect(core.present.size).toBeLessThanOrEqual(10_000)
    expect(cache.metrics()).toMatchObject({ misses: KEYS, loads: KEYS })

    // Past ttl, every loader fails: each call is answered stale and its key backs off, so the back-off map
    // would hold 15,000 keys if it were not bounded.
    clock.advance(2_000)
    t0 = performance.now()
    const failing = () => {
      throw new Error('database down')
    }
    await everyKey(async (key, i) => {
      if ((await cache.getOrSet(key, failing)) !== i) wrong++
    }, FAILING)
    console.log(`${FAILING} failed loads answered stale: ${((performance.now() - t0) / FAILING) * 1000} µs each`)
    expect(wrong).toBe(0)
    expect(core.flight.size).toBe(0)
    expect(core.backoff.size).toBe(10_000)
    expect(core.present.size).toBeLessThanOrEqual(10_000)
    expect(core.refreshing.size).toBe(0)
    expect(core.loads.size).toBe(0)
    expect(core.background.size).toBe(0)
    expect(cache.metrics()).toMatchObject({ staleHits: FAILING, loadErrors: FAILING })

    // No lock left behind: another client (another process, as far as the store knows) loads expired keys at
    // once instead of waiting on a lock, all over the key range.
    clock.advance(2_000)
    const other = createCacheClient({ ...options, lockWait: 10_000 })
    for (let i = 0; i < KEYS; i += 997) expect(await other.getOrSet(`key:${i}`, () => -i)).toBe(-i)
    expect(other.metrics()).toMatchObject({ lockWaits: 0 })
    await Promise.all([cache.close(), other.close()])
  }, 20_000)
})
