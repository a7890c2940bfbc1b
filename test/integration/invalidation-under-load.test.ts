/**
 * Invalidation under load (L3) on redis-server: `invalidatePattern` over 100,000 keys while 256 callers keep reading
 * other keys of the namespace through their own client. It pages with SCAN and tombstones in scripts of at most 250
 * keys, so Redis stays responsive between pages: the readers' p99 during the invalidation stays within a bound of
 * their p99 before it. One script deleting everything, or a KEYS, would hold Redis for the whole 100,000 at once.
 */
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { type CacheClient, createCacheClient } from '../../src/client.js'
import { keygen } from '../support/keygen.js'

const KEYS = 100_000
const HOT_KEYS = 1_000
const READERS = 256

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

function connect(): Redis {
  const redis = new Redis(inject('redisUrl'))
  cleanup.push(() => redis.disconnect())
  return redis
}

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.ceil(0.99 * sorted.length) - 1] as number
}

describe('invalidatePattern over 100,000 keys while 256 callers read', () => {
  it('removes them all while the readers’ p99 stays bounded, and touches nothing else [L3]', async () => {
    const namespace = keygen('inv')()
    const admin = connect()
    const writer = createCacheClient({ adapter: ioredisAdapter(connect()), namespace, timeout: '10s' })
    const reader = createCacheClient({ adapter: ioredisAdapter(connect()), namespace })
    cleanup.push(
      () => writer.close(),
      () => reader.close(),
    )
    // 101,000 entries, copied from one real one with a pipeline (100,000 set() calls would take most of the budget).
    await writer.set('seed', { id: 0, name: 'room', seats: 8 })
    const slot = (await admin.get(`${namespace}:seed`)) as string
    for (let from = 0; from < KEYS + HOT_KEYS; from += 10_000) {
      const pipeline = admin.pipeline()
      for (let i = from; i < Math.min(from + 10_000, KEYS + HOT_KEYS); i++) {
        pipeline.set(i < KEYS ? `${namespace}:old:${i}` : `${namespace}:hot:${i - KEYS}`, slot, 'PX', 600_000)
      }
      await pipeline.exec()
    }

    let loads = 0
    const loader = () => {
      loads++
      return 'loaded'
    }
    let phase: 'before' | 'during' | 'done' = 'before'
    const latencies = { before: [] as number[], during: [] as number[] }
    let wrong = 0
    const read = async (cache: CacheClient, n: number) => {
      while (phase !== 'done') {
        const key = `hot:${(n * 7919 + latencies.before.length + latencies.during.length) % HOT_KEYS}`
        const at = phase as 'before' | 'during'
        const t0 = performance.now()
        const value = (await cache.getOrSet(key, loader)) as { id?: number }
        // Counted in the phase it began and ended in.
        if ((phase as string) === at) latencies[at].push(performance.now() - t0)
        if (value.id !== 0) wrong++
      }
    }
    const readers = Array.from({ length: READERS }, (_, n) => read(reader, n))
    await new Promise((r) => setTimeout(r, 1_000))
    phase = 'during'
    const started = performance.now()
    const removed = await writer.invalidatePattern('old:*')
    const tookMs = performance.now() - started
    phase = 'done'
    await Promise.all(readers)

    const before = p99(latencies.before)
    const during = p99(latencies.during)
    console.info(
      '[L3]',
      JSON.stringify({
        removed,
        tookMs,
        readsBefore: latencies.before.length,
        readsDuring: latencies.during.length,
        before,
        during,
      }),
    )
    expect(removed).toBe(KEYS)
    expect(wrong).toBe(0)
    expect(loads).toBe(0)
    expect(latencies.during.length).toBeGreaterThan(READERS)
    // Paged work leaves Redis answering between pages: readers see at most a few pages' worth of delay.
    expect(during).toBeLessThan(Math.max(5 * before, before + 50))
    expect(await writer.get('old:12345')).toBeUndefined()
    expect(await writer.get('hot:1')).toEqual({ id: 0, name: 'room', seats: 8 })
  }, 30_000)
})
