/**
 * An ACL user that may not SUBSCRIBE: Redis 7 gives new users no channel (`acl-pubsub-default resetchannels`), so this
 * is what a least-privilege setup gets unless it adds `&*`. The adapter's own subscriber cannot subscribe: the tier
 * stays bypassed and waiters poll (never live), and the adapter does not open and drop a connection ten times a second
 * for the life of the process. A redis-server of the test's own, so the connection count is the adapter's.
 */
import { createClient } from '@redis/client'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CacheAdapter } from '../../src/adapters/adapter.js'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'

const cleanup: Array<() => unknown> = []
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
let server: RedisServer
let admin: Redis

beforeAll(async () => {
  server = await startRedisServer()
  admin = new Redis(server.port, '127.0.0.1')
  // Every key and command, no channel: what ACL SETUSER gives by default on Redis 7.
  await admin.call('ACL', 'SETUSER', 'app', 'on', '>app-pass', '~*', 'resetchannels', '+@all')
}, 30_000)

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
  admin?.disconnect()
  await server?.stop()
})

async function connections(): Promise<number> {
  const info = (await admin.info('stats')) as string
  return Number(/total_connections_received:(\d+)/.exec(info)?.[1])
}

const adapters: Array<[string, () => Promise<CacheAdapter>]> = [
  [
    'node-redis',
    async () => {
      const client = createClient({ url: `redis://app:app-pass@127.0.0.1:${server.port}` })
      client.on('error', () => {})
      await client.connect()
      cleanup.push(() => client.destroy())
      return nodeRedisAdapter(client)
    },
  ],
  [
    'ioredis',
    async () => {
      const client = new Redis({ port: server.port, username: 'app', password: 'app-pass', maxRetriesPerRequest: 1 })
      client.on('error', () => {})
      cleanup.push(() => client.disconnect())
      return ioredisAdapter(client)
    },
  ],
]

describe.each(adapters)('a %s client whose user may not subscribe', (_, make) => {
  it('is never live, and opens a few connections over 3 s, not one every 100 ms', async () => {
    const adapter = await make()
    let live = false
    adapter.subscribe?.({
      live: (up) => {
        live ||= up
      },
      message: () => {},
    })
    let opened: number
    try {
      await sleep(500)
      const before = await connections()
      await sleep(3_000)
      opened = (await connections()) - before
    } finally {
      await adapter.dispose?.()
    }
    expect(live).toBe(false)
    expect(opened).toBeLessThanOrEqual(5)
  }, 15_000)
})
