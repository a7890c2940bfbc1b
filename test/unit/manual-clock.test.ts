import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { createCacheClient } from '../../src/index.js'
import { manualClock } from '../../src/testing/index.js'

describe('manualClock', () => {
  it('stands still until moved, by advance() forward or set() anywhere', () => {
    const clock = manualClock(1_000)
    expect(clock.now()).toBe(1_000)
    expect(clock.now()).toBe(1_000)
    expect(clock.advance(250)).toBe(1_250)
    expect(clock.now()).toBe(1_250)
    expect(clock.set(500)).toBe(500)
    expect(clock.now()).toBe(500)
  })

  it('starts at a fixed date by default, so runs repeat', () => {
    expect(manualClock().now()).toBe(Date.parse('2030-01-01T00:00:00Z'))
  })

  it('refuses to go back through advance() and refuses non-finite times', () => {
    const clock = manualClock()
    expect(() => clock.advance(-1)).toThrow(/forward only/)
    expect(() => clock.advance(Number.NaN)).toThrow(/finite/)
    expect(() => clock.set(Number.POSITIVE_INFINITY)).toThrow(/finite/)
    expect(() => manualClock(Number.NaN)).toThrow(/finite/)
  })

  it('drives freshness of a memory store and a client: fresh, then stale while revalidating, then reloaded', async () => {
    const clock = manualClock()
    const cache = createCacheClient({ clock, adapter: memoryAdapter({ clock }), ttl: '5m', staleWhileRevalidate: '1h' })
    let version = 0
    const load = async () => ++version
    expect(await cache.getOrSet('config', load)).toBe(1)
    clock.advance(4 * 60_000)
    expect(await cache.get('config')).toBe(1)
    clock.advance(2 * 60_000) // past ttl: get() sees fresh entries only
    expect(await cache.get('config')).toBeUndefined()
    const refreshed = new Promise((resolve) => cache.on('refresh', resolve))
    expect(await cache.getOrSet('config', load)).toBe(1)
    await refreshed
    expect(await cache.getOrSet('config', load)).toBe(2)
    await cache.close()
  })
})
