import { describe, expect, it } from 'vitest'
import type { CacheAdapter } from '../../src/adapters/adapter.js'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { createCacheClient } from '../../src/index.js'
import type { StandardSchemaV1 } from '../../src/standard-schema.js'
import { manualClock } from '../../src/testing/index.js'

/** The memory store, counting the calls that reach its asynchronous read. */
function counted() {
  const clock = manualClock(1_700_000_000_000)
  const store = memoryAdapter({ clock })
  let reads = 0
  const adapter: CacheAdapter = {
    ...store,
    read: (key, lock, tags) => {
      reads++
      return store.read(key, lock, tags)
    },
  }
  return { adapter, clock, reads: () => reads }
}

describe('a fresh hit from the memory store (the default)', () => {
  it('is answered synchronously: no read reaches the store, and each caller gets its own decoded copy', async () => {
    const { adapter, reads } = counted()
    const cache = createCacheClient({ adapter, namespace: 'm' })
    await cache.getOrSet('k', () => ({ n: 1 }))
    const before = reads()
    const a = await cache.getOrSet('k', () => ({ n: 2 }))
    const b = await cache.getOrSet('k', () => ({ n: 2 }))
    expect(reads()).toBe(before)
    expect(a).toEqual({ n: 1 })
    expect(a).not.toBe(b)
    expect(cache.metrics()).toMatchObject({ hits: 2, misses: 1 })
  })

  it('still sees an invalidated tag, an expired entry and a schema that answers asynchronously', async () => {
    const { adapter, clock, reads } = counted()
    const cache = createCacheClient({ adapter, namespace: 'm', clock, ttl: 1_000 })
    await cache.getOrSet('t', () => 'v1', { tags: ['rooms'] })
    await cache.invalidateTags(['rooms'])
    expect(await cache.getOrSet('t', () => 'v2', { tags: ['rooms'] })).toBe('v2')
    await cache.getOrSet('e', () => 'old')
    // Past ttl (the store's own time runs a few microseconds ahead: each of its operations moves it on).
    clock.advance(1_001)
    expect(await cache.getOrSet('e', () => 'new')).toBe('new')
    const asyncSchema: StandardSchemaV1<unknown, string> = {
      '~standard': { version: 1, vendor: 'test', validate: async (value) => ({ value: `${String(value)}!` }) },
    }
    await cache.getOrSet('s', () => 'x', { schema: asyncSchema })
    const before = reads()
    expect(await cache.getOrSet('s', () => 'y', { schema: asyncSchema })).toBe('x!')
    expect(reads()).toBe(before + 1)
  })
})
