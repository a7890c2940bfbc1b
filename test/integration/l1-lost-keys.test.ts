/**
 * `invalidatePattern()` and `clear()` in one process reach another process's in-process tier also for keys the
 * backend no longer holds. A key the tier answers is never read in Redis, so under `maxmemory` with an LRU policy it
 * is the first evicted; the scripts announce only the keys SCAN finds, so on the old code the other process kept
 * serving the old value after the invalidation resolved. The walk now ends with one announcement of its glob.
 * Real servers: a redis-server of its own (`allkeys-lru`) for ioredis and node-redis, the shared one behind the
 * local Upstash REST endpoint.
 */
import { createClient } from '@redis/client'
import { Redis as Upstash } from '@upstash/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import type { CacheAdapter, CacheClient } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'

const cleanup: Array<() => unknown> = []
let server: RedisServer
beforeAll(async () => {
  server = await startRedisServer({ extraArgs: ['--maxmemory-policy', 'allkeys-lru', '--maxmemory-samples', '10'] })
})
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
  await server?.stop()
})
const ns = keygen('l1lost')
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function ioredis(url = server.url): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  cleanup.push(() => redis.disconnect())
  return redis
}

async function nodeRedis(url = server.url): Promise<CacheAdapter> {
  const client = createClient({ url })
  client.on('error', () => {})
  await client.connect()
  cleanup.push(() => client.destroy())
  return nodeRedisAdapter(client)
}

async function tierClient(adapter: CacheAdapter, namespace: string): Promise<CacheClient> {
  const cache = createCacheClient({ adapter, namespace, l1: true })
  cleanup.push(() => cache.close())
  await cache.has('__start__')
  for (let i = 0; i < 500 && cache.metrics().l1?.live !== true; i++) await sleep(5)
  expect(cache.metrics().l1?.live).toBe(true)
  return cache
}

/** Fills the server past a small maxmemory until allkeys-lru has evicted `key`. */
async function evict(admin: Redis, key: string): Promise<void> {
  const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1])
  await admin.config('SET', 'maxmemory', String(used + 2_000_000))
  const junk = 'x'.repeat(10_000)
  for (let i = 0; i < 5_000 && (await admin.exists(key)) === 1; i++) await admin.set(`l1lost-junk:${i}`, junk)
  expect(await admin.exists(key)).toBe(0)
  await admin.config('SET', 'maxmemory', '0')
  await admin.flushdb()
}

/** The reader holds `user:1` in its tier; it must not serve it once the other client's invalidation resolved. */
async function scenario(
  reader: CacheClient,
  writer: CacheClient,
  lose: () => Promise<void>,
  how: 'invalidatePattern' | 'clear',
): Promise<void> {
  await reader.getOrSet('user:1', () => 'old')
  await reader.getOrSet('user:1', () => 'old')
  const hits = reader.metrics().l1Hits
  expect(await reader.getOrSet('user:1', () => 'x')).toBe('old')
  expect(reader.metrics().l1Hits).toBe(hits + 1)
  await lose()
  expect(await (how === 'clear' ? writer.clear() : writer.invalidatePattern('user:*'))).toBe(0)
  await sleep(50) // far more than one announcement hop
  expect(await reader.getOrSet('user:1', () => 'new')).toBe('new')
}

describe('l1: a pattern invalidation in another process, of a key the backend lost', () => {
  for (const how of ['invalidatePattern', 'clear'] as const) {
    it(`${how}() by ioredis reaches a node-redis reader's tier (the key evicted under maxmemory)`, async () => {
      const namespace = ns()
      const admin = ioredis()
      const reader = await tierClient(await nodeRedis(), namespace)
      const writer = createCacheClient({ adapter: ioredisAdapter(ioredis()), namespace })
      cleanup.push(() => writer.close())
      await scenario(reader, writer, () => evict(admin, `${namespace}:user:1`), how)
    })

    it(`${how}() by node-redis reaches an ioredis reader's tier (the key evicted under maxmemory)`, async () => {
      const namespace = ns()
      const admin = ioredis()
      const reader = await tierClient(ioredisAdapter(ioredis()), namespace)
      const writer = createCacheClient({ adapter: await nodeRedis(), namespace })
      cleanup.push(() => writer.close())
      await scenario(reader, writer, () => evict(admin, `${namespace}:user:1`), how)
    })
  }

  it('invalidatePattern() over Upstash reaches an ioredis reader’s tier (the key deleted outside the cache)', async () => {
    const namespace = ns()
    const admin = ioredis(inject('redisUrl'))
    const reader = await tierClient(ioredisAdapter(ioredis(inject('redisUrl'))), namespace)
    const upstash = new Upstash({ url: inject('upstashUrl'), token: inject('upstashToken') })
    const writer = createCacheClient({ adapter: upstashAdapter(upstash), namespace })
    cleanup.push(() => writer.close())
    await scenario(
      reader,
      writer,
      async () => {
        await admin.del(`${namespace}:user:1`)
      },
      'invalidatePattern',
    )
  })
})
