/**
 * The write-time fence when the backend loses keys, and when writes arrive late (RELIABILITY F11, F12, C5,
 * C8). A load that began before an invalidation resolved must not store its value, even when the
 * invalidation's tombstone (or the load's own lock marker) is gone by the time the write arrives:
 * evicted by an LRU, the memory store's bound or FLUSHALL. And a write that reaches the backend a fence
 * window after the read that fenced it, on the backend's clock, is refused whatever the loader took.
 */
import { Cluster, Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import * as z from 'zod'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { clusterSlot } from '../../src/adapters/redis-wire.js'
import type { CacheClient, CacheClientOptions } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { skewedClock } from '../support/clock-skew.js'
import { keygen } from '../support/keygen.js'
import { type RedisCluster, startRedisCluster, startRedisServer } from '../support/redis-server.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('fence')
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function gate() {
  let open!: () => void
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

/** Starts a getOrSet whose loader reads 'old' and then waits for the test: the load began before whatever follows. */
async function slowLoad(cache: CacheClient, key: string, options: { tags?: string[] } = {}) {
  const started = gate()
  const dbRead = gate()
  const load = cache.getOrSet(
    key,
    async () => {
      started.open()
      await dbRead.promise
      return 'old'
    },
    options,
  )
  await started.promise
  return {
    finish: async () => {
      dbRead.open()
      return load
    },
  }
}

function track(cache: CacheClient) {
  cleanup.push(() => cache.close())
  return cache
}

describe('the memory store loses the tombstone to its LRU bound (the default adapter)', () => {
  it('a load that began before delete() does not store its value after 10,000 set()s evicted the tombstone', async () => {
    const cache = track(createCacheClient({ namespace: ns() }))
    const load = await slowLoad(cache, 'room:1')
    await cache.delete('room:1')
    // The default store keeps 10,000 keys: these push the tombstone (and the load's lock marker) out.
    for (let i = 0; i < 10_000; i++) await cache.set(`other:${i}`, i)
    expect(await load.finish()).toBe('old')
    expect(await cache.get('room:1')).toBeUndefined()
    expect(await cache.getOrSet('room:1', () => 'new')).toBe('new')
  })
})

describe('a load past the fence window, on the backend clock (memory store, manual clock)', () => {
  it('a 59 s loader plus a 2 s schema after a delete() at +1 s does not store its value', async () => {
    let t = 1_000_000
    const clock = { now: () => t }
    const cache = track(createCacheClient({ adapter: memoryAdapter({ clock }), clock, namespace: ns() }))
    const slowSchema = z.string().transform(async (s) => {
      t += 2_000
      return s
    })
    const started = gate()
    const dbRead = gate()
    const load = cache.getOrSet(
      'k',
      async () => {
        started.open()
        await dbRead.promise
        return 'old'
      },
      { schema: slowSchema },
    )
    await started.promise
    t += 1_000
    await cache.delete('k')
    t += 58_000
    dbRead.open()
    expect(await load).toBe('old')
    expect(await cache.get('k')).toBeUndefined()
  })
})

describe('redis-server loses keys during a load', () => {
  const servers = new Map<string, Promise<{ url: string; admin: Redis }>>()
  const server = (name: string, extraArgs: string[] = []) => {
    let started = servers.get(name)
    if (!started) {
      started = startRedisServer({ extraArgs }).then((s) => {
        const admin = new Redis(s.url)
        cleanup.push(() => s.stop())
        cleanup.push(() => admin.disconnect())
        return { url: s.url, admin }
      })
      servers.set(name, started)
    }
    return started
  }
  const cacheOn = (url: string, options: CacheClientOptions = {}) => {
    const redis = new Redis(url, { maxRetriesPerRequest: 1 })
    cleanup.push(() => redis.disconnect())
    return track(createCacheClient({ adapter: ioredisAdapter(redis), namespace: ns(), ...options }))
  }
  /** Writes 64 kB values until every key in `gone` has been evicted (allkeys-lru, 8 MB). */
  const churnUntilEvicted = async (admin: Redis, gone: string[]) => {
    const blob = 'x'.repeat(64 * 1024)
    for (let i = 0; i < 5_000; i++) {
      await admin.set(`churn:${i}`, blob)
      if (i % 20 === 19 && (await admin.exists(...gone)) === 0) return
    }
    throw new Error(`churn did not evict ${gone.join(', ')}`)
  }

  it.each([
    ['delete()', (c: CacheClient) => c.delete('k')],
    ['clear()', (c: CacheClient) => c.clear()],
    ['invalidatePattern()', (c: CacheClient) => c.invalidatePattern('k*')],
  ] as const)(
    'maxmemory 8mb + allkeys-lru evicts the tombstone of %s: the load does not store its value [F12]',
    async (_, invalidate) => {
      const { url, admin } = await server('lru', ['--maxmemory', '8mb', '--maxmemory-policy', 'allkeys-lru'])
      const namespace = ns()
      const cache = cacheOn(url, { namespace })
      const load = await slowLoad(cache, 'k')
      await invalidate(cache)
      await churnUntilEvicted(admin, [`${namespace}:k`])
      expect(await load.finish()).toBe('old')
      expect(await cache.get('k')).toBeUndefined()
      expect(await cache.getOrSet('k', () => 'new')).toBe('new')
    },
  )

  it('maxmemory 8mb + allkeys-lru evicts the tag record after invalidateTags(): no read serves the load’s value [F12, C7]', async () => {
    const { url, admin } = await server('lru', ['--maxmemory', '8mb', '--maxmemory-policy', 'allkeys-lru'])
    const namespace = ns()
    const cache = cacheOn(url, { namespace })
    const load = await slowLoad(cache, 'k', { tags: ['rooms'] })
    await cache.invalidateTags(['rooms'])
    await churnUntilEvicted(admin, [`${namespace}:k`, `{${namespace}:tags}:rooms`])
    expect(await load.finish()).toBe('old')
    expect(await cache.getOrSet('k', () => 'new', { tags: ['rooms'] })).toBe('new')
  })

  it('FLUSHALL after delete() during a load: the load does not store its value [F11]', async () => {
    const { url, admin } = await server('plain')
    const cache = cacheOn(url)
    const load = await slowLoad(cache, 'k')
    await cache.delete('k')
    await admin.flushall()
    expect(await load.finish()).toBe('old')
    expect(await cache.get('k')).toBeUndefined()
  })

  it('FLUSHALL during a load (a failover to an empty replica): the value is not stored, the next load is [F11]', async () => {
    const { url, admin } = await server('plain')
    const cache = cacheOn(url)
    const load = await slowLoad(cache, 'k')
    await admin.flushall()
    expect(await load.finish()).toBe('old')
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.getOrSet('k', () => 'next')).toBe('next')
    expect(await cache.get('k')).toBe('next')
  })
})

describe('a cluster whose nodes disagree on the time (one master 2 s ahead)', () => {
  let cluster: RedisCluster | undefined
  const skewedIndex = 0
  const start = async () => {
    cluster ??= await startRedisCluster({ env: (i) => (i === skewedIndex ? skewedClock(2_000) : undefined) })
    return cluster
  }
  afterAll(async () => {
    await cluster?.stop()
  })

  /** A namespace whose entry key `k` lives on the skewed master and whose tag records live on another one. */
  async function placement(nodes: RedisCluster) {
    const admin = new Redis(nodes.servers[0]!.url)
    cleanup.push(() => admin.disconnect())
    const slots = (await admin.cluster('SLOTS')) as unknown as [number, number, [string, number]][]
    const ownerOf = (slot: number) => slots.find(([from, to]) => slot >= from && slot <= to)?.[2][1]
    const skewedPort = nodes.servers[skewedIndex]!.port
    for (let i = 0; i < 1_000; i++) {
      const namespace = `${ns()}x${i}`
      const entryOnSkewed = ownerOf(clusterSlot(`${namespace}:k`)) === skewedPort
      const tagsElsewhere = ownerOf(clusterSlot(`{${namespace}:tags}:t`)) !== skewedPort
      if (entryOnSkewed && tagsElsewhere) return namespace
    }
    throw new Error('no namespace with that placement')
  }

  it('a load that a forced re-read started counts from the tag clock: an invalidation within the skew still wins [C8]', async () => {
    const nodes = await start()
    const namespace = await placement(nodes)
    const connect = () => {
      const c = new Cluster(nodes.nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
      cleanup.push(() => c.disconnect())
      return c
    }
    const cache = track(createCacheClient({ adapter: ioredisAdapter(connect()), namespace }))
    const writer = track(createCacheClient({ adapter: ioredisAdapter(connect()), namespace }))
    expect(await cache.getOrSet('k', () => 'first', { tags: ['t'] })).toBe('first')
    // The entry is fresh to the backend but its tag was invalidated: the read finds it so, then re-reads to lock it.
    await writer.invalidateTags(['t'])
    const load = await slowLoad(cache, 'k', { tags: ['t'] })
    // An invalidation after the load began, less than the skew later: the load's value must not be served.
    await sleep(50)
    await writer.invalidateTags(['t'])
    expect(await load.finish()).toBe('old')
    expect(await cache.getOrSet('k', () => 'new', { tags: ['t'] })).toBe('new')
  }, 30_000)
})
