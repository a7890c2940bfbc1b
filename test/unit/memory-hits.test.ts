import { describe, expect, it } from 'vitest'
import type { CacheAdapter } from '../../src/adapters/adapter.js'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { createCacheClient } from '../../src/index.js'
import type { StandardSchemaV1 } from '../../src/standard-schema.js'
import { manualClock } from '../../src/testing/index.js'
import { clockReadings } from '../support/clock-readings.js'

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
  it('is answered synchronously: no read reaches the store, and every hit gets the entry’s one decoded value', async () => {
    const { adapter, reads } = counted()
    const cache = createCacheClient({ adapter, namespace: 'm' })
    const loaded = { n: 1 }
    expect(await cache.getOrSet('k', () => loaded)).toBe(loaded)
    const before = reads()
    const a = await cache.getOrSet('k', () => ({ n: 2 }))
    const b = await cache.getOrSet('k', () => ({ n: 2 }))
    expect(reads()).toBe(before)
    expect(a).toEqual({ n: 1 })
    expect(a).toBe(b)
    // The loader's own value stays the caller's: only what the store decoded is shared, and frozen.
    expect(Object.isFrozen(loaded)).toBe(false)
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

  it('decodes an entry once and freezes it deeply: no caller can change what another gets, Dates included', async () => {
    const cache = createCacheClient({ namespace: 'm' })
    const room = { id: 'r1', tags: ['a', 'b'], owner: { name: 'Ada' }, at: new Date('2026-01-02T03:04:05.000Z') }
    await cache.getOrSet('room', () => room)
    const first = (await cache.getOrSet('room', () => room)) as typeof room
    expect(() => first.tags.push('mutated')).toThrow(TypeError)
    expect(() => {
      first.owner.name = 'mutated'
    }).toThrow(TypeError)
    expect(() => first.at.setFullYear(1999)).toThrow(TypeError)
    expect(() => {
      ;(first as { extra?: number }).extra = 1
    }).toThrow(TypeError)
    const second = (await cache.getOrSet('room', () => room)) as typeof room
    expect(second).toEqual(room)
    expect(second.at).toBeInstanceOf(Date)
    // A copy is the caller's to change.
    const mine = structuredClone(second)
    mine.tags.push('c')
    expect(mine.tags).toEqual(['a', 'b', 'c'])
    expect(cache.metrics()).toMatchObject({ hits: 2, misses: 1 })
  })

  it('shares the frozen value with getOrSetMany hits; get, which never loads, decodes a value of its own', async () => {
    const cache = createCacheClient({ namespace: 'm' })
    await cache.getOrSet('a', () => ({ n: 1 }))
    const hit = await cache.getOrSet('a', () => ({ n: 0 }))
    const [batched] = await cache.getOrSetMany(['a'], (keys) => keys.map(() => ({ n: 0 })))
    expect(batched).toBe(hit)
    expect(Object.isFrozen(hit)).toBe(true)
    const own = (await cache.get('a')) as { n: number }
    expect(own).toEqual({ n: 1 })
    expect(own).not.toBe(hit)
    own.n = 2
    expect(await cache.getOrSet('a', () => ({ n: 0 }))).toEqual({ n: 1 })
  })

  it('hands a schema its own copy: what the schema changes in its input is not seen by the next hit', async () => {
    const cache = createCacheClient({ namespace: 'm' })
    const stamping: StandardSchemaV1<unknown, { n: number; seen?: number }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => {
          const v = value as { n: number; seen?: number }
          v.seen = (v.seen ?? 0) + 1
          return { value: v }
        },
      },
    }
    await cache.getOrSet('s', () => ({ n: 1 }), { schema: stamping })
    const second = structuredClone(await cache.getOrSet('s', () => ({ n: 2 }), { schema: stamping }))
    const third = await cache.getOrSet('s', () => ({ n: 2 }), { schema: stamping })
    expect(second).toMatchObject({ n: 1 })
    expect(third).toEqual(second)
    expect(cache.metrics()).toMatchObject({ hits: 2, misses: 1 })
  })

  it('decodes again when a store changes the body of a slot object in place (a custom store may keep one per key)', async () => {
    const store = memoryAdapter()
    // One slot object per key, whose fields are overwritten on every read: its identity says nothing of its body.
    const kept = new Map<string, NonNullable<ReturnType<NonNullable<CacheAdapter['freshSync']>>>['slot']>()
    const adapter: CacheAdapter = {
      ...store,
      freshSync: (key) => {
        const found = store.freshSync?.(key)
        if (found === undefined) return undefined
        const slot = kept.get(key) ?? { ...found.slot }
        Object.assign(slot, found.slot)
        kept.set(key, slot)
        return { now: found.now, slot }
      },
    }
    const cache = createCacheClient({ adapter, namespace: 'm' })
    await cache.set('k', { v: 1 })
    expect(await cache.getOrSet('k', () => ({ v: 0 }))).toEqual({ v: 1 })
    await cache.set('k', { v: 2 })
    expect(await cache.getOrSet('k', () => ({ v: 0 }))).toEqual({ v: 2 })
  })

  it('reads the clock once per hit, counts every hit in the latency and times one in 16 of each category', async () => {
    const cache = createCacheClient({ namespace: 'm' })
    await cache.getOrSet('k', () => 1)
    const readings = await clockReadings(async () => {
      for (let i = 0; i < 320; i++) await cache.getOrSet('k', () => 2, { category: i % 2 === 0 ? 'even' : 'odd' })
    })
    const m = cache.metrics()
    expect(m).toMatchObject({ hits: 320, misses: 1 })
    expect(m.latency.hits.count).toBe(320)
    for (const category of ['even', 'odd']) {
      expect(m.categories[category]?.latency.hits.count).toBe(160)
      expect(m.categories[category]?.latency.hits.p50).toBeGreaterThan(0)
    }
    expect(readings).toBeLessThanOrEqual(320 + 2 * 20 + 4)
    // A `hit` listener gets every hit's duration.
    const durations: number[] = []
    cache.on('hit', (e) => durations.push(e.durationMs))
    for (let i = 0; i < 40; i++) await cache.getOrSet('k', () => 2)
    expect(durations).toHaveLength(40)
    expect(durations.every((ms) => ms >= 0 && ms < 1_000)).toBe(true)
    expect(cache.metrics().latency.hits.count).toBe(360)
  })
})
