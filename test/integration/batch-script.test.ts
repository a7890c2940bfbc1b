/**
 * The batched read script on real servers (standalone Redis through ioredis and node-redis, Upstash over HTTP): it
 * reads its entry keys with MGET, 1,000 at a time, and reads alone the keys MGET cannot answer (absent, another
 * type). A client's first batch goes through the script (later ones may peek with a plain MGET), so each test reads
 * with a client that has not seen its keys.
 */
import { createClient } from '@redis/client'
import { Redis as Upstash } from '@upstash/redis'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { type UpstashLikeClient, upstashAdapter } from '../../src/adapters/upstash.js'
import type { CacheAdapter } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('batch-script')
/** The number in a key such as `r:42`. */
const numberOf = (key: string) => Number(key.slice(2))

/** Raw access to the server behind the adapter, for data cacheward did not write. */
interface Raw {
  set(key: string, value: string): Promise<unknown>
  hset(key: string, field: string, value: string): Promise<unknown>
  type(key: string): Promise<string>
}

interface Backend {
  name: string
  adapter(): Promise<CacheAdapter>
  raw(): Raw
}

function ioredisRaw(): Raw {
  const redis = new Redis(inject('redisUrl'))
  cleanup.push(() => redis.quit())
  return { set: (k, v) => redis.set(k, v), hset: (k, f, v) => redis.hset(k, f, v), type: (k) => redis.type(k) }
}

function upstash(): Upstash {
  return new Upstash({ url: inject('upstashUrl'), token: inject('upstashToken'), enableTelemetry: false })
}

const backends: Backend[] = [
  {
    name: 'ioredis',
    adapter: async () => {
      const redis = new Redis(inject('redisUrl'))
      cleanup.push(() => redis.quit())
      return ioredisAdapter(redis)
    },
    raw: ioredisRaw,
  },
  {
    name: 'node-redis',
    adapter: async () => {
      const client = createClient({ url: inject('redisUrl') })
      client.on('error', () => {})
      await client.connect()
      cleanup.push(() => client.close())
      return nodeRedisAdapter(client)
    },
    raw: ioredisRaw,
  },
  {
    name: 'upstash (REST)',
    adapter: async () => upstashAdapter(upstash() as unknown as UpstashLikeClient),
    raw: () => {
      const client = upstash()
      return {
        set: (k, v) => client.set(k, v),
        hset: (k, f, v) => client.hset(k, { [f]: v }),
        type: (k) => client.type(k),
      }
    },
  },
]

describe.each(backends)('the batched read script: $name', (backend) => {
  const client = async (namespace: string, maxBatchKeys = 5_000) => {
    const cache = createCacheClient({ adapter: await backend.adapter(), namespace, maxBatchKeys })
    cleanup.push(() => cache.close())
    return cache
  }

  it('answers 2,500 cached keys of one batch, each with its own value, past the 1,000-key MGET chunks', async () => {
    const namespace = ns()
    const keys = Array.from({ length: 2_500 }, (_, i) => `room:${i}`)
    const writer = await client(namespace)
    await writer.setMany(keys.map((key) => [key, { id: key }] as const))
    const reader = await client(namespace)
    const asked: string[] = []
    const values = await reader.getOrSetMany(keys, async (missing) => {
      asked.push(...missing)
      return missing.map((id) => ({ id: `loaded ${id}` }))
    })
    expect(asked).toEqual([])
    expect(values.map((v) => v?.id)).toEqual(keys)
    expect(reader.metrics()).toMatchObject({ hits: 2_500, misses: 0 })
  })

  it('answers 9,000 cached keys of one batch: more than one script can return (Lua unpacks ~8,000 values)', async () => {
    const namespace = ns()
    const keys = Array.from({ length: 9_000 }, (_, i) => `r:${i}`)
    const writer = await client(namespace, 10_000)
    await writer.setMany(keys.map((key) => [key, numberOf(key)] as const))
    const reader = await client(namespace, 10_000)
    const errors: string[] = []
    reader.on('error', (event) => errors.push(event.error.message))
    let asked = 0
    const values = await reader.getOrSetMany(keys, async (missing) => {
      asked += missing.length
      return missing.map(() => -1)
    })
    expect({ asked, errors }).toEqual({ asked: 0, errors: [] })
    expect(values).toEqual(keys.map(numberOf))
  })

  it('treats foreign data and another type as the single read does: reported, loaded and replaced', async () => {
    const namespace = ns()
    const raw = backend.raw()
    const writer = await client(namespace)
    await writer.set('cached', 'from cache')
    await raw.set(`${namespace}:foreign`, 'hello')
    await raw.hset(`${namespace}:hash`, 'field', 'value')
    const reader = await client(namespace)
    const errors: string[] = []
    reader.on('error', (event) => errors.push(`${event.operation} ${event.key}`))
    const asked: string[] = []
    const values = await reader.getOrSetMany(['cached', 'foreign', 'hash', 'absent'], async (missing) => {
      asked.push(...missing)
      return missing.map((key) => `loaded ${key}`)
    })
    expect(values).toEqual(['from cache', 'loaded foreign', 'loaded hash', 'loaded absent'])
    expect(asked.sort()).toEqual(['absent', 'foreign', 'hash'])
    expect(errors.sort()).toEqual(['read foreign', 'read hash'])
    expect(await raw.type(`${namespace}:hash`)).toBe('string')
    expect(await reader.get('hash')).toBe('loaded hash')
  })
})
