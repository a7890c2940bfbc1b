/**
 * Batches with the in-process tier: keys the tier holds fresh are answered from it (no backend read for them, one
 * hit each counted as an l1 hit), the rest are read in one batch; another process's delete reaches this process's
 * tier, and the next batch loads that key again; a stale key in the tier is served and refreshed in the background.
 */
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import type { CacheClient, CacheClientOptions } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('batch-l1')
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function make(namespace: string, options: CacheClientOptions = {}): CacheClient {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
  cleanup.push(() => redis.disconnect())
  const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace, l1: true, ...options })
  cleanup.push(() => cache.close())
  return cache
}

async function live(cache: CacheClient): Promise<void> {
  await cache.has('__start__')
  for (let i = 0; i < 400 && cache.metrics().l1?.live !== true; i++) await sleep(5)
  expect(cache.metrics().l1?.live).toBe(true)
}

describe('getOrSetMany with l1', () => {
  it('answers keys the tier holds from it, and reads only the others', async () => {
    const cache = make(ns())
    await live(cache)
    const loaded: string[][] = []
    const loadMany = async (keys: string[]) => {
      loaded.push(keys)
      return keys.map((k) => ({ key: k }))
    }
    await cache.getOrSetMany(['a', 'b'], loadMany) // misses: loaded and stored
    await cache.getOrSetMany(['a', 'b'], loadMany) // backend hits: fill the tier
    cache.resetMetrics()
    const values = await cache.getOrSetMany(['a', 'b', 'c'], loadMany)
    expect(values).toEqual([{ key: 'a' }, { key: 'b' }, { key: 'c' }])
    expect(loaded).toEqual([['a', 'b'], ['c']])
    expect(cache.metrics()).toMatchObject({ hits: 2, l1Hits: 2, misses: 1 })
    // Values from the tier are frozen, as getOrSet's are.
    expect(Object.isFrozen(values[0])).toBe(true)
  })

  it('drops a key another process deleted, and the next batch loads it again', async () => {
    const namespace = ns()
    const a = make(namespace)
    const b = make(namespace)
    await Promise.all([live(a), live(b)])
    let version = 1
    const loadMany = async (keys: string[]) => keys.map((k) => `${k}@${version}`)
    await a.getOrSetMany(['x', 'y'], loadMany)
    await a.getOrSetMany(['x', 'y'], loadMany)
    expect(await a.getOrSetMany(['x', 'y'], loadMany)).toEqual(['x@1', 'y@1'])
    version = 2
    await b.deleteMany(['x'])
    let seen: (string | undefined)[] = []
    for (let i = 0; i < 200; i++) {
      seen = await a.getOrSetMany(['x', 'y'], loadMany)
      if (seen[0] === 'x@2') break
      await sleep(5)
    }
    expect(seen).toEqual(['x@2', 'y@1'])
  })

  it('serves a stale key from the tier and refreshes it with one background loadMany', async () => {
    const cache = make(ns(), { ttl: 200, staleWhileRevalidate: '10s' })
    await live(cache)
    let version = 1
    const calls: string[][] = []
    const loadMany = async (keys: string[]) => {
      calls.push(keys)
      return keys.map((k) => `${k}@${version}`)
    }
    await cache.getOrSetMany(['s1', 's2'], loadMany)
    await cache.getOrSetMany(['s1', 's2'], loadMany)
    await sleep(300)
    version = 2
    expect(await cache.getOrSetMany(['s1', 's2'], loadMany)).toEqual(['s1@1', 's2@1'])
    for (let i = 0; i < 100 && calls.length < 2; i++) await sleep(5)
    expect(calls).toEqual([
      ['s1', 's2'],
      ['s1', 's2'],
    ])
    await sleep(50)
    expect(await cache.getOrSetMany(['s1', 's2'], loadMany)).toEqual(['s1@2', 's2@2'])
  })
})
