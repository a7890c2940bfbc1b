/**
 * Big values (L4) on real backends: redis-server through ioredis and node-redis, the Upstash REST endpoint through
 * @upstash/redis (JSON over HTTP), and the memory store. Values up to 5 MB: over `maxValueBytes` they are
 * served and not stored (counted, emitted, the lock released); with `compress` they are stored gzipped, read back
 * by any client (one without `compress` too), and only when gzip makes them smaller.
 */
import { Redis as Upstash } from '@upstash/redis'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import type { CacheAdapter } from '../../src/adapters/adapter.js'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import { type CacheClient, createCacheClient } from '../../src/client.js'
import { PACKED_PREFIX } from '../../src/compress.js'
import { type CacheEventMap, CacheValueTooLargeError } from '../../src/index.js'
import type { CacheClientOptions } from '../../src/options.js'
import { keygen } from '../support/keygen.js'

const MB = 1024 * 1024
const admin = new Redis(inject('redisUrl'))
const connections: Array<{ disconnect(): void }> = [admin]
const nodeRedisClients: Array<{ close(): Promise<unknown> }> = []
afterAll(async () => {
  for (const c of connections) c.disconnect()
  await Promise.allSettled(nodeRedisClients.map((c) => c.close()))
})

/** Rows of a listing, about `bytes` of JSON: compressible the way real API payloads are (repeated field names). */
function rows(bytes: number): { id: number; name: string; about: string }[] {
  const out = []
  for (let i = 0; bytes > 0; i++) {
    const row = { id: i, name: `room ${i}`, about: `a meeting room on floor ${i % 40} with ${i % 17} seats` }
    bytes -= JSON.stringify(row).length + 1
    out.push(row)
  }
  return out
}

/** A string that gzip cannot shrink once it is base64-encoded again (random base64 holds 6 bits a character). */
function noise(bytes: number): string {
  const chunk = new Uint8Array(Math.ceil((bytes * 3) / 4))
  for (let i = 0; i < chunk.length; i += 65_536) crypto.getRandomValues(chunk.subarray(i, i + 65_536))
  return Buffer.from(chunk).toString('base64').slice(0, bytes)
}

interface Target {
  name: string
  adapter(): CacheAdapter
  /** The stored body at a full key, as the backend holds it (redis only). */
  raw?(full: string): Promise<string | null>
}

const ioredis = (): CacheAdapter => {
  const redis = new Redis(inject('redisUrl'))
  connections.push(redis)
  return ioredisAdapter(redis)
}
const nodeRedis = (): CacheAdapter => {
  const client = createClient({ url: inject('redisUrl') })
  client.on('error', () => {})
  void client.connect()
  nodeRedisClients.push(client)
  return nodeRedisAdapter(client)
}
const upstash = (): CacheAdapter =>
  upstashAdapter(new Upstash({ url: inject('upstashUrl'), token: inject('upstashToken'), enableTelemetry: false }))
const rawBody = async (full: string) => {
  const slot = await admin.get(full)
  return slot === null ? null : slot.slice(slot.indexOf('\n') + 1)
}
const shared = memoryAdapter()

const TARGETS: Target[] = [
  { name: 'redis-server (ioredis)', adapter: ioredis, raw: rawBody },
  { name: 'redis-server (node-redis)', adapter: nodeRedis, raw: rawBody },
  { name: 'Upstash REST (@upstash/redis)', adapter: upstash, raw: rawBody },
  { name: 'memory', adapter: () => shared },
]

const names = keygen('big')

describe.each(TARGETS)('big values over $name', (target) => {
  const make = (options: CacheClientOptions = {}): { cache: CacheClient; namespace: string } => {
    const namespace = names()
    return { cache: createCacheClient({ adapter: target.adapter(), namespace, timeout: '5s', ...options }), namespace }
  }
  const listen = (cache: CacheClient) => {
    const seen: CacheEventMap['oversized'][] = []
    cache.on('oversized', (e) => seen.push(e))
    return seen
  }

  it('returns a value over maxValueBytes without storing it, counts and emits it every time [L4]', async () => {
    const { cache, namespace } = make()
    const seen = listen(cache)
    const value = rows(1.5 * MB)
    let loads = 0
    const loader = () => {
      loads++
      return value
    }
    expect(await cache.getOrSet('listing', loader, { category: 'listings' })).toBe(value)
    expect(await cache.getOrSet('listing', loader, { category: 'listings' })).toBe(value)
    expect(loads).toBe(2)
    const metrics = cache.metrics()
    expect(metrics.oversized).toBe(2)
    expect(metrics.categories.listings?.oversized).toBe(2)
    expect(seen).toHaveLength(2)
    expect(seen[0]).toMatchObject({ key: 'listing', namespace, category: 'listings', limit: MB, operation: 'getOrSet' })
    expect(seen[0]?.bytes).toBeGreaterThan(1.5 * MB)
    expect(JSON.stringify(seen[0])).not.toContain('room 1')
    if (target.raw) {
      // The lock was released with nothing written: at most the short-lived marker the lock left.
      expect((await target.raw(`${namespace}:listing`)) ?? '').toBe('')
    }
    expect(await cache.has('listing')).toBe(false)
    await cache.close()
  })

  it('lets concurrent callers share the one load, and another process load at once rather than wait on the lock [L4]', async () => {
    const { cache, namespace } = make({ lockWait: '10s' })
    const peer = createCacheClient({ adapter: target.adapter(), namespace, timeout: '5s', lockWait: '10s' })
    const value = rows(1.2 * MB)
    let loads = 0
    const loader = async () => {
      loads++
      await new Promise((r) => setTimeout(r, 100))
      return value
    }
    const first = Array.from({ length: 20 }, () => cache.getOrSet('shared', loader))
    // The peer arrives while the first load holds the lock: it waits, then loads itself once the lock goes.
    await new Promise((r) => setTimeout(r, 30))
    const started = performance.now()
    const fromPeer = peer.getOrSet('shared', loader)
    for (const got of await Promise.all(first)) expect(got).toBe(value)
    expect(await fromPeer).toBe(value)
    // Released by the refused write, not left to lockWait (10 s) or lockTtl (10 s).
    expect(performance.now() - started).toBeLessThan(3_000)
    expect(loads).toBe(2)
    expect(cache.metrics().oversized).toBe(1)
    await Promise.all([cache.close(), peer.close()])
  })

  it('stores up to a namespace’s own maxValueBytes: a 5 MB value under a 6 MB bound is a hit [L4]', async () => {
    const { cache } = make()
    const big = cache.namespace('exports', { maxValueBytes: 6 * MB })
    const value = rows(5 * MB)
    let loads = 0
    const loader = () => {
      loads++
      return value
    }
    await big.getOrSet('all', loader)
    expect(await big.getOrSet('all', loader)).toEqual(value)
    expect(loads).toBe(1)
    // The parent's bound is still 1 MB.
    await cache.getOrSet('all', loader)
    expect(cache.metrics().oversized).toBe(1)
    await cache.close()
  })

  it('rejects set() of an oversized value with CacheValueTooLargeError and leaves what the key held [L4]', async () => {
    const { cache } = make()
    const seen = listen(cache)
    await cache.set('profile', { v: 1 })
    const error = await cache.set('profile', rows(2 * MB), { tags: ['profiles'] }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CacheValueTooLargeError)
    expect(error).toMatchObject({ code: 'CACHEWARD_VALUE', key: 'profile', limit: MB })
    expect((error as CacheValueTooLargeError).bytes).toBeGreaterThan(2 * MB)
    expect((error as Error).message).toContain('maxValueBytes')
    expect(await cache.get('profile')).toEqual({ v: 1 })
    expect(cache.metrics().oversized).toBe(1)
    expect(seen).toMatchObject([{ key: 'profile', operation: 'set' }])
    await cache.close()
  })

  it('stores a 5 MB value gzipped under a 1 MB bound, honestly smaller, and a client without compress reads it [L4]', async () => {
    const { cache, namespace } = make({ compress: true })
    const plain = createCacheClient({ adapter: target.adapter(), namespace, timeout: '5s' })
    const value = rows(5 * MB)
    let loads = 0
    const loader = () => {
      loads++
      return value
    }
    await cache.getOrSet('rooms', loader)
    expect(cache.metrics().oversized).toBe(0)
    if (target.raw) {
      const stored = (await target.raw(`${namespace}:rooms`)) as string
      expect(stored.startsWith(PACKED_PREFIX)).toBe(true)
      const ratio = stored.length / JSON.stringify(value).length
      // Rows like these gzip about 10:1; base64 adds a third back. Not a marketing number: what was stored.
      expect(ratio).toBeLessThan(0.25)
      expect(stored.length).toBeLessThan(MB)
    }
    expect(await cache.getOrSet('rooms', loader)).toEqual(value)
    expect(await plain.getOrSet('rooms', loader)).toEqual(value)
    expect(await plain.get('rooms')).toEqual(value)
    expect(loads).toBe(1)
    expect(plain.metrics().hits).toBe(2)
    await Promise.all([cache.close(), plain.close()])
  })

  it('keeps a body gzip cannot shrink as it is, and a small one below the threshold uncompressed [L4]', async () => {
    const { cache, namespace } = make({ compress: { threshold: 1024 } })
    const random = noise(200_000)
    await cache.set('random', random)
    await cache.set('small', { id: 1 })
    expect(await cache.get('random')).toBe(random)
    expect(await cache.get('small')).toEqual({ id: 1 })
    if (target.raw) {
      expect((await target.raw(`${namespace}:random`))?.startsWith(PACKED_PREFIX)).toBe(false)
      expect((await target.raw(`${namespace}:small`))?.startsWith(PACKED_PREFIX)).toBe(false)
    }
    await cache.close()
  })

  it('refuses to inflate a body far past its own maxValueBytes: a miss, reported, whoever planted it [L4]', async () => {
    const { cache: writer, namespace } = make({ compress: true, maxValueBytes: 16 * MB })
    // 8 MB of one letter gzips to a few kB: fine for the writer, a bomb for a reader bounded at 64 KiB (4 MiB inflated).
    await writer.set('bomb', 'a'.repeat(8 * MB))
    const reader = createCacheClient({ adapter: target.adapter(), namespace, timeout: '5s', maxValueBytes: 64 * 1024 })
    const errors: string[] = []
    reader.on('error', (e) => errors.push(e.operation))
    expect(await reader.getOrSet('bomb', () => 'fresh')).toBe('fresh')
    expect(errors).toContain('decode')
    expect(await writer.get('bomb')).toBe('fresh')
    await Promise.all([writer.close(), reader.close()])
  })

  it('treats a compressed body that does not unpack as corrupt data: a miss, reported, replaced [L4]', async () => {
    if (!target.raw) return
    const { cache, namespace } = make({ compress: { threshold: 0 } })
    await cache.set('broken', rows(10_000))
    const slot = (await admin.get(`${namespace}:broken`)) as string
    await admin.set(`${namespace}:broken`, `${slot.slice(0, slot.indexOf('\n') + 1)}${PACKED_PREFIX}AAAA`)
    const errors: string[] = []
    cache.on('error', (e) => errors.push(e.operation))
    expect(await cache.getOrSet('broken', () => 'fresh')).toBe('fresh')
    expect(errors).toContain('decode')
    expect(await cache.get('broken')).toBe('fresh')
    await cache.close()
  })
})

describe('compressed entries on the synchronous paths', () => {
  it('answers a compressed hit of the memory store through the asynchronous path, then from it again [L4]', async () => {
    const cache = createCacheClient({ compress: { threshold: 0 }, namespace: names() })
    const value = rows(50_000)
    let loads = 0
    const loader = () => {
      loads++
      return value
    }
    await cache.getOrSet('k', loader)
    for (let i = 0; i < 3; i++) expect(await cache.getOrSet('k', loader)).toEqual(value)
    expect(loads).toBe(1)
    expect(cache.metrics().hits).toBe(3)
  })

  it('serves a compressed entry from l1 once the backend read unpacked it [L4]', async () => {
    const namespace = names()
    const cache = createCacheClient({ adapter: ioredis(), namespace, compress: { threshold: 0 }, l1: true })
    const value = rows(50_000)
    await cache.set('k', value)
    expect(await cache.getOrSet('k', () => 'loaded')).toEqual(value)
    await new Promise((r) => setTimeout(r, 20))
    expect(await cache.getOrSet('k', () => 'loaded')).toEqual(value)
    expect(await cache.getOrSet('k', () => 'loaded')).toEqual(value)
    expect(cache.metrics().l1Hits).toBeGreaterThanOrEqual(1)
    await cache.close()
  })
})
