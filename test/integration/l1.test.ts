/**
 * The in-process tier (`l1`) on real redis-server and the real cluster: hits that send no backend
 * command, frozen values, coherence from the backend's announcements (another client's change seen once
 * its announcement arrives, never after), a lost subscription bypassing the tier until it is confirmed
 * again, a read whose reply an announcement overtook not filling the tier, and its metrics.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { createClient, createCluster } from '@redis/client'
import { Redis as Upstash } from '@upstash/redis'
import { Cluster, Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import type { CacheAdapter, CacheClient, CacheClientOptions } from '../../src/index.js'
import { CacheOptionsError, createCacheClient } from '../../src/index.js'
import { chaosAdapter } from '../../src/testing/index.js'
import { clockReadings } from '../support/clock-readings.js'
import { keygen } from '../support/keygen.js'
import { startUpstashRest } from '../support/upstash-rest.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('l1')
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function connect(): Redis {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  cleanup.push(() => redis.disconnect())
  return redis
}

function make(options: CacheClientOptions & { adapter: CacheAdapter }): CacheClient {
  const cache = createCacheClient({ namespace: ns(), l1: true, ...options })
  cleanup.push(() => cache.close())
  return cache
}

/** Waits until the client's tier serves (its subscription confirmed), starting it with a first (uncounted) call. */
async function live(cache: CacheClient): Promise<void> {
  await cache.has('__start__')
  for (let i = 0; i < 400 && cache.metrics().l1?.live !== true; i++) await sleep(5)
  expect(cache.metrics().l1?.live).toBe(true)
}

/** A miss, then a backend hit that fills the tier: the next call is answered by the tier. */
async function warm(cache: CacheClient, key: string, value: unknown, options?: { tags: string[] }) {
  await cache.getOrSet(key, () => value, options)
  await cache.getOrSet(key, () => value, options)
}

/** Resolves once `check` passes, polling every millisecond; returns how long that took (ms). */
async function until(check: () => Promise<boolean>, ms = 1_000): Promise<number> {
  const started = performance.now()
  while (!(await check())) {
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms`)
    await sleep(1)
  }
  return performance.now() - started
}

describe('l1 over redis-server', () => {
  it('answers hits with no backend command, the same deeply frozen object every time', async () => {
    const chaos = chaosAdapter(ioredisAdapter(connect()))
    const cache = make({ adapter: chaos })
    await live(cache)
    const room = { id: 1, members: [{ name: 'ada' }] }
    await cache.getOrSet('room', () => room)
    const first = await cache.getOrSet('room', () => room)
    const calls = chaos.calls()
    const hits = await Promise.all(Array.from({ length: 100 }, () => cache.getOrSet('room', () => room)))
    expect(chaos.calls()).toBe(calls)
    for (const hit of hits) expect(hit).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
    expect(Object.isFrozen((first as typeof room).members[0])).toBe(true)
    expect(() => {
      ;(first as typeof room).members[0]!.name = 'changed'
    }).toThrow(TypeError)
    expect(cache.metrics()).toMatchObject({ hits: 101, l1Hits: 100, misses: 1 })
  })

  it('keeps a Date in a tier value read-only: no caller can move it under the others', async () => {
    const cache = make({ adapter: ioredisAdapter(connect()) })
    await live(cache)
    const at = '2026-01-02T03:04:05.000Z'
    await warm(cache, 'dated', { at: new Date(at) })
    const first = (await cache.getOrSet('dated', () => ({ at: new Date(0) }))) as { at: Date }
    expect(first.at).toBeInstanceOf(Date)
    expect(() => first.at.setFullYear(1999)).toThrow(TypeError)
    expect(() => first.at.setTime(0)).toThrow(TypeError)
    expect(() => first.at.setUTCHours(0)).toThrow(TypeError)
    const second = (await cache.getOrSet('dated', () => ({ at: new Date(0) }))) as { at: Date }
    expect(second.at.toISOString()).toBe(at)
    // Still a Date to everything that reads one.
    expect(JSON.stringify(second)).toBe(`{"at":"${at}"}`)
    expect(new Date(second.at).toISOString()).toBe(at)
    expect(cache.metrics()).toMatchObject({ l1Hits: 2 })
  })

  it('with a custom serializer: a Map stays read-only, and a value it cannot freeze is answered, never rejected', async () => {
    // A codec that keeps Maps and byte arrays, and can decode a value that refers to itself (as superjson can).
    const serializer = {
      serialize: (value: unknown) =>
        JSON.stringify(value, (_key, v: unknown) =>
          v instanceof Map ? { $map: [...v] } : v instanceof Uint8Array ? { $bytes: [...v] } : v,
        ),
      deserialize: (text: string) =>
        JSON.parse(
          text,
          (_key, v: { $map?: [unknown, unknown][]; $bytes?: number[]; cyclic?: true; self?: unknown }) => {
            if (v?.cyclic === true) v.self = v
            return v?.$map ? new Map(v.$map) : v?.$bytes ? Uint8Array.from(v.$bytes) : v
          },
        ),
    }
    const cache = make({ adapter: ioredisAdapter(connect()), serializer })
    await live(cache)
    await warm(cache, 'map', { m: new Map([['a', { n: 1 }]]) })
    const hit = (await cache.getOrSet('map', () => ({ m: new Map() }))) as { m: Map<string, { n: number }> }
    expect(() => hit.m.set('a', { n: 2 })).toThrow(TypeError)
    expect(() => hit.m.clear()).toThrow(TypeError)
    expect(Object.isFrozen(hit.m.get('a'))).toBe(true)
    const again = (await cache.getOrSet('map', () => ({ m: new Map() }))) as { m: Map<string, { n: number }> }
    expect(again.m.get('a')).toEqual({ n: 1 })
    expect(cache.metrics()).toMatchObject({ l1Hits: 2, errors: 0 })
    // Bytes cannot be made read-only: they are served from Redis, a new copy per read, never from the tier.
    const bytes = { b: new Uint8Array([1, 2, 3]) }
    await warm(cache, 'bytes', bytes)
    const readBytes = [await cache.getOrSet('bytes', () => bytes), await cache.getOrSet('bytes', () => bytes)]
    expect(readBytes[0]).toEqual(bytes)
    expect(readBytes[0]).not.toBe(readBytes[1])
    expect(cache.metrics()).toMatchObject({ l1Hits: 2, errors: 0 })
    // A value that refers to itself is walked once, frozen, and served from the tier.
    await warm(cache, 'cyclic', { cyclic: true })
    const cyclic = (await cache.getOrSet('cyclic', () => ({}))) as { self: unknown }
    expect(cyclic.self).toBe(cyclic)
    expect(Object.isFrozen(cyclic)).toBe(true)
    expect(cache.metrics()).toMatchObject({ l1Hits: 3, errors: 0, loadErrors: 0 })
  })

  it('answers every hit of a key with one settled promise, each await resuming in its own async context', async () => {
    const cache = make({ adapter: ioredisAdapter(connect()) })
    await live(cache)
    await warm(cache, 'ctx', { n: 1 })
    const a = cache.getOrSet('ctx', () => ({ n: 2 }))
    expect(cache.getOrSet('ctx', () => ({ n: 2 }))).toBe(a)
    const requests = new AsyncLocalStorage<string>()
    const seen = await Promise.all(
      ['r1', 'r2', 'r3'].map((id) =>
        requests.run(id, async () => {
          const value = await cache.getOrSet('ctx', () => ({ n: 2 }))
          return [value, requests.getStore()]
        }),
      ),
    )
    expect(seen).toEqual([
      [{ n: 1 }, 'r1'],
      [{ n: 1 }, 'r2'],
      [{ n: 1 }, 'r3'],
    ])
    expect(cache.metrics()).toMatchObject({ l1Hits: 5, misses: 1 })
  })

  it('a tagged hit from the tier costs no round trip either, and another client’s invalidateTags ends it', async () => {
    const namespace = ns()
    const chaos = chaosAdapter(ioredisAdapter(connect()))
    const reader = make({ adapter: chaos, namespace })
    const writer = make({ adapter: ioredisAdapter(connect()), namespace })
    await live(reader)
    await reader.getOrSet('r', () => 'v1', { tags: ['rooms'] })
    await reader.getOrSet('r', () => 'v1', { tags: ['rooms'] })
    const calls = chaos.calls()
    expect(await reader.getOrSet('r', () => 'v1', { tags: ['rooms'] })).toBe('v1')
    expect(chaos.calls()).toBe(calls)
    await writer.invalidateTags(['rooms'])
    await until(async () => (await reader.getOrSet('r', () => 'v2', { tags: ['rooms'] })) === 'v2')
  })

  it.each([
    ['delete()', (c: CacheClient) => c.delete('k')],
    ['set()', (c: CacheClient) => c.set('k', 'v2')],
    ['invalidatePattern()', (c: CacheClient) => c.invalidatePattern('k*')],
    ['clear()', (c: CacheClient) => c.clear()],
  ] as const)('another client’s %s reaches this one’s tier within a few ms', async (_, change) => {
    const namespace = ns()
    const reader = make({ adapter: ioredisAdapter(connect()), namespace })
    const writer = make({ adapter: ioredisAdapter(connect()), namespace })
    await live(reader)
    await warm(reader, 'k', 'v1')
    expect(await reader.getOrSet('k', () => 'v1')).toBe('v1')
    expect(reader.metrics().l1Hits).toBe(1)
    await change(writer)
    const ms = await until(async () => (await reader.getOrSet('k', () => 'v2')) === 'v2')
    expect(ms).toBeLessThan(100)
  })

  it('drops what this client changes before the call resolves: it reads its own writes', async () => {
    const cache = make({ adapter: ioredisAdapter(connect()) })
    await live(cache)
    await cache.getOrSet('k', () => 'v1')
    await cache.getOrSet('k', () => 'v1')
    await cache.set('k', 'v2')
    expect(await cache.getOrSet('k', () => 'unused')).toBe('v2')
    await cache.delete('k')
    expect(await cache.getOrSet('k', () => 'v3')).toBe('v3')
    await cache.getOrSet('t', () => 't1', { tags: ['x'] })
    await cache.getOrSet('t', () => 't1', { tags: ['x'] })
    await cache.invalidateTags(['x'])
    expect(await cache.getOrSet('t', () => 't2', { tags: ['x'] })).toBe('t2')
  })

  it('is emptied and bypassed when its subscription is killed, until the server confirms it again', async () => {
    const namespace = ns()
    const admin = connect()
    const reader = make({ adapter: ioredisAdapter(connect()), namespace })
    const writer = make({ adapter: ioredisAdapter(connect()), namespace })
    await live(reader)
    await reader.getOrSet('k', () => 'v1')
    await reader.getOrSet('k', () => 'v1')
    expect(reader.metrics().l1?.entries).toBeGreaterThan(0)
    // The subscription goes first; the change right after it is never announced to this reader.
    await admin.client('KILL', 'TYPE', 'pubsub')
    await writer.delete('k')
    // Whenever the reader learns of the closed connection, it must not serve 'v1' afterwards; reads are
    // answered by the backend (which has the tombstone) until the subscription is confirmed again.
    await until(async () => (await reader.getOrSet('k', () => 'v2')) === 'v2')
    expect(await reader.getOrSet('k', () => 'v3')).toBe('v2')
    // Back to serving from the tier once resubscribed.
    await until(async () => reader.metrics().l1?.live === true, 5_000)
    await reader.getOrSet('k', () => 'v3')
    const before = reader.metrics().l1Hits
    await reader.getOrSet('k', () => 'v3')
    expect(reader.metrics().l1Hits).toBe(before + 1)
  })

  it('a read whose reply arrives after an announcement about its key does not fill the tier', async () => {
    const namespace = ns()
    const inner = ioredisAdapter(connect())
    // Holds read replies until the test lets them go: the announcement overtakes the reply.
    let hold: Promise<void> | undefined
    const slowReads: CacheAdapter = {
      ...inner,
      read: async (key, lock, tags) => {
        const reply = await inner.read(key, lock, tags)
        if (hold) await hold
        return reply
      },
    }
    const reader = make({ adapter: slowReads, namespace })
    const writer = make({ adapter: ioredisAdapter(connect()), namespace })
    await live(reader)
    await writer.set('k', 'old')
    let release!: () => void
    hold = new Promise((resolve) => {
      release = resolve
    })
    // The read executes on the server now and sees 'old'; its reply is held.
    const read = reader.getOrSet('k', () => 'loaded')
    await sleep(20)
    await writer.set('k', 'new')
    // The announcement of that set reaches the reader (its subscriber connection is not held).
    await sleep(20)
    hold = undefined
    release()
    // The held reply is the value from before the change: returned to that caller, but kept out of the tier.
    expect(await read).toBe('old')
    expect(await reader.getOrSet('k', () => 'unused')).toBe('new')
  })

  it('serves a stale entry from the tier inside staleWhileRevalidate and refreshes it once', async () => {
    const cache = make({ adapter: ioredisAdapter(connect()), ttl: 100, staleWhileRevalidate: '10s' })
    await live(cache)
    let loads = 0
    const load = async () => {
      loads++
      await sleep(30)
      return `v${loads}`
    }
    await cache.getOrSet('k', load)
    await cache.getOrSet('k', load)
    await cache.getOrSet('k', load)
    expect(cache.metrics().l1Hits).toBe(1)
    await sleep(150)
    const stale = await Promise.all(Array.from({ length: 20 }, () => cache.getOrSet('k', load)))
    expect(new Set(stale)).toEqual(new Set(['v1']))
    expect(cache.metrics().staleHits).toBe(20)
    await until(async () => (await cache.getOrSet('k', load)) === 'v2')
    expect(loads).toBe(2)
  })

  it('evicts past maxEntries, counts it, and reports its size', async () => {
    const cache = make({ adapter: ioredisAdapter(connect()), l1: { maxEntries: 10 } })
    await live(cache)
    for (let i = 0; i < 25; i++) {
      await cache.getOrSet(`k${i}`, () => i)
      await cache.getOrSet(`k${i}`, () => i)
    }
    expect(cache.metrics().l1).toMatchObject({ live: true, entries: 10, evictions: 15 })
  })

  it('emits hit events with the tier that answered', async () => {
    const cache = make({ adapter: ioredisAdapter(connect()) })
    const tiers: string[] = []
    cache.on('hit', (e) => tiers.push(e.tier))
    await live(cache)
    await cache.getOrSet('k', () => 1)
    await cache.getOrSet('k', () => 1)
    await cache.getOrSet('k', () => 1)
    expect(tiers).toEqual(['l2', 'l1'])
  })

  it('counts every tier hit in the hit latency, whose percentiles weigh the tier hits it did not time', async () => {
    // Backend hits made slow (5 ms per read) through a namespace without the tier; the client's metrics cover both.
    const chaos = chaosAdapter(ioredisAdapter(connect()))
    const cache = make({ adapter: chaos })
    const slow = cache.namespace('slow', { l1: false })
    await live(cache)
    await warm(cache, 'k', 1)
    await slow.getOrSet('k', () => 1)
    chaos.setFaults({ latency: 5 })
    const before = cache.metrics()
    for (let i = 0; i < 60; i++) await slow.getOrSet('k', () => 1)
    const readings = await clockReadings(async () => {
      for (let i = 0; i < 320; i++) await cache.getOrSet('k', () => 1, { category: i % 2 === 0 ? 'even' : 'odd' })
    })
    const m = cache.metrics()
    expect(m.l1Hits - before.l1Hits).toBe(320)
    expect(m.latency.hits.count - before.latency.hits.count).toBe(380)
    // 320 tier hits against 60 backend ones: the median is a tier hit's (well under a millisecond), the 95th
    // percentile a backend read's. Were the untimed tier hits not weighed, the backend's would be the median.
    expect(m.latency.hits.p50).toBeLessThan(1)
    expect(m.latency.hits.p95).toBeGreaterThanOrEqual(4)
    for (const category of ['even', 'odd']) {
      expect(m.categories[category]?.latency.hits).toMatchObject({ count: 160 })
      expect(m.categories[category]?.latency.hits.p50).toBeGreaterThan(0)
    }
    // One reading per call for its freshness; a second for one tier hit in 16 of each category at most.
    expect(readings).toBeLessThanOrEqual(320 + 2 * 20 + 4)
  })

  it('is bypassed by a namespace with l1: false, and used by one with its own ttl', async () => {
    const cache = make({ adapter: ioredisAdapter(connect()) })
    await live(cache)
    const off = cache.namespace('off', { l1: false })
    const short = cache.namespace('short', { l1: { ttl: 50 } })
    await warm(off, 'k', 1)
    await off.getOrSet('k', () => 1)
    await warm(short, 'k', 1)
    await short.getOrSet('k', () => 1)
    expect(cache.metrics().l1Hits).toBe(1)
    // Past the namespace's 50 ms the tier no longer answers; the backend does (still fresh there).
    await sleep(80)
    const { hits, l1Hits } = cache.metrics()
    await short.getOrSet('k', () => 1)
    expect(cache.metrics()).toMatchObject({ hits: hits + 1, l1Hits })
  })
})

describe('l1 over the cluster', () => {
  it('hears another client’s change through its own subscriber on one master', async () => {
    const nodes = inject('clusterNodes')
    const connectCluster = () => {
      const cluster = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
      cleanup.push(() => cluster.disconnect())
      return cluster
    }
    const namespace = ns()
    const reader = make({ adapter: ioredisAdapter(connectCluster()), namespace })
    const writer = make({ adapter: ioredisAdapter(connectCluster()), namespace })
    await live(reader)
    for (let i = 0; i < 20; i++) {
      await warm(reader, `k${i}`, 'v1')
      await reader.getOrSet(`k${i}`, () => 'v1')
    }
    expect(reader.metrics().l1Hits).toBe(20)
    await Promise.all(Array.from({ length: 20 }, (_, i) => writer.delete(`k${i}`)))
    for (let i = 0; i < 20; i++) await until(async () => (await reader.getOrSet(`k${i}`, () => 'v2')) === 'v2')
  })
})

describe('l1 over node-redis', () => {
  const connectNodeRedis = () => {
    const client = createClient({ url: inject('redisUrl') })
    client.on('error', () => {})
    void client.connect()
    cleanup.push(() => client.destroy())
    return client
  }

  it('serves from the tier, hears an ioredis client’s delete, and is bypassed while its subscription is killed', async () => {
    const namespace = ns()
    const admin = connect()
    const chaos = chaosAdapter(nodeRedisAdapter(connectNodeRedis()))
    const reader = make({ adapter: chaos, namespace })
    const writer = make({ adapter: ioredisAdapter(connect()), namespace })
    await live(reader)
    await warm(reader, 'k', 'v1')
    const calls = chaos.calls()
    expect(await reader.getOrSet('k', () => 'x')).toBe('v1')
    expect(chaos.calls()).toBe(calls)
    expect(reader.metrics().l1Hits).toBe(1)
    await writer.delete('k')
    await until(async () => (await reader.getOrSet('k', () => 'v2')) === 'v2')
    await reader.getOrSet('k', () => 'v2')
    // node-redis reconnects and resubscribes by itself; until it has, the tier must not serve.
    await admin.client('KILL', 'TYPE', 'pubsub')
    await writer.delete('k')
    await until(async () => (await reader.getOrSet('k', () => 'v3')) === 'v3')
    expect(await reader.getOrSet('k', () => 'v4')).toBe('v3')
    await until(async () => reader.metrics().l1?.live === true, 5_000)
    await reader.getOrSet('k', () => 'v4')
    const before = reader.metrics().l1Hits
    expect(await reader.getOrSet('k', () => 'v4')).toBe('v3')
    expect(reader.metrics().l1Hits).toBe(before + 1)
  })

  it('a cluster client hears another client’s change through its subscriber on one master', async () => {
    const rootNodes = inject('clusterNodes').map(({ host, port }) => ({ url: `redis://${host}:${port}` }))
    const connectCluster = () => {
      const cluster = createCluster({ rootNodes })
      cluster.on('error', () => {})
      void cluster.connect()
      cleanup.push(() => cluster.destroy())
      return cluster
    }
    const namespace = ns()
    const reader = make({ adapter: nodeRedisAdapter(connectCluster()), namespace })
    const writer = make({ adapter: nodeRedisAdapter(connectCluster()), namespace })
    await live(reader)
    for (let i = 0; i < 20; i++) {
      await warm(reader, `k${i}`, 'v1')
      await reader.getOrSet(`k${i}`, () => 'v1')
    }
    expect(reader.metrics().l1Hits).toBe(20)
    await Promise.all(Array.from({ length: 20 }, (_, i) => writer.delete(`k${i}`)))
    for (let i = 0; i < 20; i++) await until(async () => (await reader.getOrSet(`k${i}`, () => 'v2')) === 'v2')
  })
})

describe('l1 over Upstash (REST, subscribed through server-sent events)', () => {
  it('answers hits with no HTTP request, hears another client’s delete, and survives a dropped stream', async () => {
    const endpoint = await startUpstashRest({ redisUrl: inject('redisUrl') })
    cleanup.push(() => endpoint.stop())
    const upstash = () =>
      upstashAdapter(new Upstash({ url: endpoint.url, token: endpoint.token, enableTelemetry: false, retry: false }))
    const namespace = ns()
    const reader = make({ adapter: upstash(), namespace })
    const writer = make({ adapter: upstash(), namespace })
    await live(reader)
    await warm(reader, 'k', 'v1')
    const requests = endpoint.requests
    for (let i = 0; i < 50; i++) expect(await reader.getOrSet('k', () => 'v1')).toBe('v1')
    expect(endpoint.requests).toBe(requests)
    await writer.delete('k')
    await until(async () => (await reader.getOrSet('k', () => 'v2')) === 'v2')

    // The stream ends without a word (the client does not report it): the heartbeat finds out within about a
    // second, the tier empties and is bypassed, and the adapter subscribes again.
    await warm(reader, 'k', 'v2')
    endpoint.dropStreams()
    await until(async () => reader.metrics().l1?.live === false, 5_000)
    await writer.delete('k')
    expect(await reader.getOrSet('k', () => 'v3')).toBe('v3')
    await until(async () => reader.metrics().l1?.live === true, 5_000)
  }, 20_000)
})

describe('l1 over an adapter a closed client disposed', () => {
  // close() disposes the adapter (its subscriber closes); a later client over the same adapter opens it again.
  const adapters: Record<string, () => Promise<CacheAdapter>> = {
    ioredis: async () => ioredisAdapter(connect()),
    'node-redis': async () => {
      const client = createClient({ url: inject('redisUrl') })
      client.on('error', () => {})
      void client.connect()
      cleanup.push(() => client.destroy())
      return nodeRedisAdapter(client)
    },
    upstash: async () => {
      const endpoint = await startUpstashRest({ redisUrl: inject('redisUrl') })
      cleanup.push(() => endpoint.stop())
      return upstashAdapter(
        new Upstash({ url: endpoint.url, token: endpoint.token, enableTelemetry: false, retry: false }),
      )
    },
  }
  for (const [name, open] of Object.entries(adapters)) {
    it(`${name}: the next client's tier goes live and hears another client's delete`, async () => {
      const adapter = await open()
      const namespace = ns()
      const first = make({ adapter, namespace })
      await live(first)
      await first.close()
      const second = make({ adapter, namespace })
      const writer = make({ adapter: ioredisAdapter(connect()), namespace })
      await live(second)
      await warm(second, 'k', 'v1')
      expect(await second.getOrSet('k', () => 'x')).toBe('v1')
      expect(second.metrics().l1Hits).toBe(1)
      await writer.delete('k')
      await until(async () => (await second.getOrSet('k', () => 'v2')) === 'v2')
    })
  }
})

describe('l1 options', () => {
  it('is refused over the memory adapter, which is in-process already', () => {
    expect(() => createCacheClient({ l1: true })).toThrow(CacheOptionsError)
    expect(() => createCacheClient({ adapter: memoryAdapter(), l1: true })).toThrow(/memory adapter is in-process/)
  })

  it('needs an explicit ttl over an adapter that cannot subscribe', () => {
    const { subscribe: _, ...cannot } = ioredisAdapter(connect())
    expect(() => createCacheClient({ adapter: cannot, l1: true })).toThrow(/explicit ttl/)
    expect(() => createCacheClient({ adapter: cannot, l1: { ttl: '5s' } })).not.toThrow()
  })

  it('rejects bad bounds and a namespace turning on what the client does not have', () => {
    const adapter = ioredisAdapter(connect())
    expect(() => createCacheClient({ adapter, l1: { maxEntries: 0 } })).toThrow(/l1.maxEntries/)
    expect(() => createCacheClient({ adapter, l1: 'yes' as never })).toThrow(/l1/)
    expect(() => createCacheClient({ adapter, namespace: 'x' }).namespace('n', { l1: true })).toThrow(/l1/)
  })
})
