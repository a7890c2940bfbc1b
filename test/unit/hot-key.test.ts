import { describe, expect, it } from 'vitest'
import type { CacheAdapter } from '../../src/adapters/adapter.js'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { createCacheClient } from '../../src/index.js'

/** A memory store whose reads take `ms` to answer, counting them. */
function slowReads(ms: number) {
  const store = memoryAdapter()
  let reads = 0
  const adapter: CacheAdapter = {
    ...store,
    read: async (key, lock, tags) => {
      reads++
      const reply = await store.read(key, lock, tags)
      await new Promise((r) => setTimeout(r, ms))
      return reply
    },
  }
  return { adapter, reads: () => reads }
}

describe('a hot key in one process', () => {
  it('shares reads among callers arriving in different ticks: one per round trip, not one per caller', async () => {
    const { adapter, reads } = slowReads(20)
    const cache = createCacheClient({ adapter, namespace: 'hot' })
    await cache.set('k', 'v')
    const before = reads()
    const calls: Promise<unknown>[] = []
    // 20 callers, one every 2 ms, while each read takes 20 ms.
    for (let i = 0; i < 20; i++) {
      calls.push(cache.getOrSet('k', () => 'unused'))
      await new Promise((r) => setTimeout(r, 2))
    }
    expect(new Set(await Promise.all(calls))).toEqual(new Set(['v']))
    expect(reads() - before).toBeLessThanOrEqual(4)
    expect(cache.metrics().hits).toBe(20)
  })
})
