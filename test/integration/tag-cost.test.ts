/**
 * The cost of `invalidateTags` does not grow with the number of entries carrying the tag: a tag is one record,
 * stamped once; entries compare against it when read. Measured as the commands the server ran (INFO commandstats,
 * on a private redis-server so no other suite's commands count) for a tag on 10 entries and one on 100,000.
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { createCacheClient } from '../../src/index.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'

const cleanup: Array<() => unknown> = []
let server: RedisServer
beforeAll(async () => {
  server = await startRedisServer()
  cleanup.push(() => server.stop())
})
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

/** Commands the server ran, by name, from INFO commandstats (INFO itself left out). */
async function commandCounts(admin: Redis): Promise<Map<string, number>> {
  const info = await admin.info('commandstats')
  const counts = new Map<string, number>()
  for (const [, name, calls] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (name !== 'info') counts.set(name as string, Number(calls))
  }
  return counts
}

function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [name, calls] of after) {
    const d = calls - (before.get(name) ?? 0)
    if (d > 0) out[name] = d
  }
  return out
}

describe('invalidateTags on redis-server (ioredis)', () => {
  it('sends the same commands for a tag on 10 entries as for one on 100,000, and all 100,000 read as misses after [C6]', async () => {
    const redis = new Redis(server.url)
    const admin = new Redis(server.url)
    cleanup.push(
      () => redis.quit(),
      () => admin.quit(),
    )
    const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace: 'tagcost', timeout: 5_000 })
    cleanup.push(() => cache.close())

    const SMALL = 10
    const BIG = 100_000
    await Promise.all(Array.from({ length: SMALL }, (_, i) => cache.set(`small:${i}`, i, { tags: ['small'] })))
    // One entry written by the cache, its stored form copied to the other 99,999 keys in pipelines (100,000 script
    // writes would take most of the test's time); each copy is a valid hit carrying the tag, checked below.
    await cache.set('big:0', 'seeded', { tags: ['big'] })
    const stored = (await admin.get('tagcost:big:0')) as string
    expect(stored).toContain('"t":["big"]')
    for (let from = 1; from < BIG; from += 10_000) {
      const pipeline = admin.pipeline()
      for (let i = from; i < Math.min(from + 10_000, BIG); i++) pipeline.set(`tagcost:big:${i}`, stored, 'PX', 600_000)
      await pipeline.exec()
    }
    for (const i of [1, 50_000, BIG - 1]) expect(await cache.get(`big:${i}`)).toBe('seeded')
    await cache.set('untagged', 'kept')
    expect(await admin.dbsize()).toBeGreaterThanOrEqual(BIG + SMALL)

    const measure = async (tag: string) => {
      const before = await commandCounts(admin)
      const started = performance.now()
      await cache.invalidateTags([tag])
      const ms = performance.now() - started
      return { commands: delta(before, await commandCounts(admin)), ms }
    }
    await cache.invalidateTags(['warm-up']) // the script's first run sends its source (NOSCRIPT, then EVAL)
    const small = await measure('small')
    const big = await measure('big')
    console.log(
      `invalidateTags: 10 entries ${small.ms.toFixed(1)} ms, 100,000 entries ${big.ms.toFixed(1)} ms`,
      big.commands,
    )
    expect(big.commands).toEqual(small.commands)
    // One script (commandstats counts the commands it runs inside too: a handful, none per entry).
    expect(big.commands).toMatchObject({ evalsha: 1 })
    expect(Object.values(big.commands).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(8)
    // Well under what touching 100,000 keys would take (several hundred ms here): the same O(1) stamp.
    expect(big.ms).toBeLessThan(small.ms + 100)

    // Every entry carrying the tag reads as a miss: a sample of 1,000 spread over all of them, and the 10.
    for (let i = 0; i < BIG; i += 100) expect(await cache.get(`big:${i}`)).toBeUndefined()
    for (let i = 0; i < SMALL; i++) expect(await cache.get(`small:${i}`)).toBeUndefined()
    let loads = 0
    expect(await cache.getOrSet('big:99999', () => ++loads, { tags: ['big'] })).toBe(1)
    expect(await cache.get('untagged')).toBe('kept')
  }, 30_000)
})
