/**
 * The hit shortcut's GETs of one tick go out as one MGET over a standalone connection (ioredis and node-redis): a
 * process with many concurrent callers pays one command, one socket write and one reply parse per tick instead of
 * one per caller. Counted with the server's own command statistics.
 */
import { createClient } from '@redis/client'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { type CacheAdapter, createCacheClient } from '../../src/index.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'

let server: RedisServer
let admin: Redis
const closers: Array<() => unknown> = []

beforeAll(async () => {
  server = await startRedisServer()
  admin = new Redis({ port: server.port })
})

afterAll(async () => {
  for (const close of closers) await close()
  admin?.disconnect()
  await server?.stop()
})

/** An adapter over a connection of its own, the breaker off so a failing batch does not open it. */
async function adapterOf(kind: 'ioredis' | 'node-redis'): Promise<CacheAdapter> {
  if (kind === 'ioredis') {
    const redis = new Redis({ port: server.port })
    closers.push(() => redis.disconnect())
    return ioredisAdapter(redis)
  }
  const client = createClient({ url: `redis://127.0.0.1:${server.port}` })
  client.on('error', () => {})
  await client.connect()
  closers.push(() => client.destroy())
  return nodeRedisAdapter(client)
}

/** Calls of each command since the last reset, from INFO commandstats. */
async function calls(): Promise<Record<string, number>> {
  const info = await admin.info('commandstats')
  const out: Record<string, number> = {}
  for (const match of info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) out[match[1] as string] = Number(match[2])
  return out
}

describe.each(['ioredis', 'node-redis'] as const)('hits of one tick over %s', (kind) => {
  it('100 concurrent hits on 100 keys cost one MGET, and each caller gets its own value', async () => {
    const cache = createCacheClient({ adapter: await adapterOf(kind), namespace: `batching-${kind}` })
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`)
    for (const key of keys) await cache.getOrSet(key, async () => ({ key }))
    await admin.config('RESETSTAT')
    const values = await Promise.all(keys.map((key) => cache.getOrSet(key, async () => ({ key: 'loaded again' }))))
    expect(values).toEqual(keys.map((key) => ({ key })))
    const counted = await calls()
    expect(counted.mget).toBe(1)
    expect(counted.get).toBeUndefined()
    expect(counted.evalsha).toBeUndefined()
    expect(cache.metrics().hits).toBe(200 - 100)
    await cache.close()
  })

  it('a lone hit is a plain GET; a key gone since it was seen takes the full read', async () => {
    const cache = createCacheClient({ adapter: await adapterOf(kind), namespace: `lone-${kind}` })
    await cache.getOrSet('a', async () => 1)
    await admin.config('RESETSTAT')
    expect(await cache.getOrSet('a', async () => 2)).toBe(1)
    expect((await calls()).get).toBe(1)
    await admin.del(`lone-${kind}:a`)
    await admin.config('RESETSTAT')
    const [gone, kept] = await Promise.all([cache.getOrSet('a', async () => 3), cache.getOrSet('a', async () => 4)])
    expect([gone, kept]).toEqual([3, 3])
    await cache.close()
  })

  it('a batch that fails fails each of its callers’ shortcut, and each is still answered by its loader', async () => {
    const cache = createCacheClient({
      adapter: await adapterOf(kind),
      namespace: `failing-${kind}`,
      circuitBreaker: false,
    })
    await Promise.all(['x', 'y'].map((key) => cache.getOrSet(key, async () => key)))
    // MGET is refused for this connection only; the full read (EVALSHA) still works.
    await admin.acl('SETUSER', 'default', 'on', 'nopass', '~*', '&*', '+@all', '-mget')
    try {
      const values = await Promise.all(['x', 'y'].map((key) => cache.getOrSet(key, async () => `${key} loaded`)))
      expect(values).toEqual(['x loaded', 'y loaded'])
      expect(cache.metrics().errors).toBeGreaterThanOrEqual(2)
    } finally {
      await admin.acl('SETUSER', 'default', '+@all')
    }
    await cache.close()
  })
})
