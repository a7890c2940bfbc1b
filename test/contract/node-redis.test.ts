import { createClient as createRedisClient } from '@redis/client'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { inject } from 'vitest'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { defineContractSuite } from './cache-client.contract.js'
import { rawHooks } from './raw-hooks.js'

// Real redis-server through node-redis v5: `redis` (the client with the Redis Stack modules, as most apps import
// it) with its default RESP2, and @redis/client (the bare client `redis` re-exports) with RESP3. Each adapter gets
// its own connection, as separate processes would; connect() is not awaited, so the first commands of each also
// go through node-redis' offline queue while it connects.
const url = inject('redisUrl')
const connections: { close(): Promise<unknown> }[] = []
const admin = new Redis(url)

for (const RESP of [2, 3] as const) {
  const connect = () => {
    const client = RESP === 2 ? createClient({ url }) : createRedisClient({ url, RESP })
    client.on('error', () => {})
    void client.connect()
    connections.push(client)
    return client
  }

  defineContractSuite({
    name: `redis-server (node-redis, ${RESP === 2 ? 'redis' : '@redis/client'}, RESP${RESP})`,
    makeAdapter: () => nodeRedisAdapter(connect()),
    makePeer: () => nodeRedisAdapter(connect()),
    ...rawHooks(admin),
    cleanup: async () => {
      if (RESP === 3) {
        await Promise.allSettled(connections.map((c) => c.close()))
        await admin.quit()
      }
    },
  })
}
