/**
 * The hit shortcut's GETs of one tick go out as one MGET over a standalone ioredis connection: a process with many
 * concurrent callers pays one command, one socket write and one reply parse per tick instead of one per caller.
 * Counted with the server's own command statistics.
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { createCacheClient } from '../../src/index.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'

let server: RedisServer
let redis: Redis
let admin: Redis

beforeAll(async () => {
  server = await startRedisServer()
  redis = new Redis({ port: server.port })
  admin = new Redis({ port: server.port })
})

afterAll(async () => {
  redis?.disconnect()
  admin?.disconnect()
  await server?.stop()
})

/** Calls of each command since the last reset, from INFO commandstats. */
async function calls(): Promise<Record<string, number>> {
  const info = await admin.info('commandstats')
  const out: Record<string, number> = {}
  for (const match of info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) out[match[1] as string] = Number(match[2])
  return out
}

describe('hits of one tick over ioredis', () => {
  it('100 concurrent hits on 100 keys cost one MGET, and each caller gets its own value', async () => {
    const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace: 'batching' })
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
    const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace: 'lone' })
    await cache.getOrSet('a', async () => 1)
    await admin.config('RESETSTAT')
    expect(await cache.getOrSet('a', async () => 2)).toBe(1)
    expect((await calls()).get).toBe(1)
    await admin.del('lone:a')
    await admin.config('RESETSTAT')
    const [gone, kept] = await Promise.all([cache.getOrSet('a', async () => 3), cache.getOrSet('a', async () => 4)])
    expect([gone, kept]).toEqual([3, 3])
    await cache.close()
  })

  it('a batch that fails fails each of its callers’ shortcut, and each is still answered by its loader', async () => {
    const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace: 'failing', circuitBreaker: false })
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
